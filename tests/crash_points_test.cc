// The crash test, RocksDB style: a simulated fortnight of steps (first build, appends, a
// definition change that rebuilds and swaps in, a restatement, a metadata change, a
// removal and a drop). For each step the harness lists every crash point the step passes
// (crash/crash_point.h: before and after every statement of every strategy, the swap-in,
// the drop, the sweep, the mark), then for each one restores the warehouse as it was
// before the step, SIGKILLs the step there, runs the step again, and checks every table
// against contents computed here with plain SQL over the raw data, and the log for
// windows applied twice. CI covers each kind of point (scope, verb, before/after) at its
// first occurrence plus random occurrences; DERIVED_CRASH_ALL=1 covers every occurrence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "engine_testing.h"

namespace derived {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunDerived;
using testing::WarehouseProject;

const char* kHourly = R"(schedule: hourly
strategy: append
start: 2024-01-01
batch: 12
time_column: hour
sql: |
  SELECT date_trunc('hour', ts) AS hour, user_id, count(*) AS events, sum(amount) * FACTOR AS amount
  FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY ALL
)";

void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", R"(time_column: ts
freshness: marker
columns:
  - {name: user_id, type: BIGINT}
  - {name: ts, type: TIMESTAMP}
  - {name: amount, type: DOUBLE}
)");
  p.Write("tables/core/hourly.yaml", std::regex_replace(kHourly, std::regex("FACTOR"), "1"));
  p.Write("tables/core/users.yaml", R"(schedule: daily
strategy: merge
start: 2024-01-01
batch: 2
time_column: last_seen
merge: {keys: [user_id], rules: {first_seen: min, last_seen: max, events: sum}}
sql: |
  SELECT user_id, min(hour) AS first_seen, max(hour) AS last_seen, sum(events) AS events FROM core.hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }} GROUP BY ALL
)");
  p.Write("tables/core/totals.yaml", R"(schedule: daily
description: all users
sql: SELECT count(*) AS users, sum(events) AS events FROM core.users
tests: [{row_count: {min: 1}}]
)");
  p.Write("tables/core/busy.yaml", "strategy: view\nsql: SELECT user_id, events FROM core.users WHERE events > 40\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT i % 17 AS user_id, TIMESTAMP '2024-01-01' + "
        "INTERVAL (i * 97) SECOND AS ts, (i % 7) * 0.5 AS amount FROM range(0, 12000) t(i)");
}

// What the tables must hold once a step has completed, from the raw data alone.
struct Expected {
  std::string through;  // the source's mark
  int factor = 1;       // hourly's definition
  bool busy = true;     // the view still exists
};

std::string HourlySql(const Expected& e) {
  return "SELECT date_trunc('hour', ts) AS hour, user_id, count(*) AS events, sum(amount) * " +
         std::to_string(e.factor) + " AS amount FROM raw.events WHERE ts < '" + e.through + "' GROUP BY ALL";
}
std::string UsersSql(const Expected& e) {
  return "SELECT user_id, min(hour) AS first_seen, max(hour) AS last_seen, sum(events) AS events FROM (" +
         HourlySql(e) + ") GROUP BY 1";
}

struct Step {
  std::string name;
  std::function<void(const WarehouseProject&)> before;  // changes to files and raw data
  std::vector<std::vector<std::string>> commands;       // what the step runs (with --now)
  std::string now;
  Expected expected;
};

class CrashHarness {
 public:
  CrashHarness() { WriteProject(p_); }

  CommandResult Run(const std::vector<std::string>& args, const std::string& now, const std::vector<std::string>& env) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--project", p_.dir().str(), "--now", now});
    return RunDerived(a, env);
  }
  // Runs the step's commands, `env` for command `only` (all when -1). True when killed.
  bool RunStep(const Step& s, const std::vector<std::string>& env, bool tolerate_errors, int only = -1) {
    for (size_t i = 0; i < s.commands.size(); ++i) {
      CommandResult r = Run(s.commands[i], s.now, only < 0 || only == static_cast<int>(i) ? env : std::vector<std::string>{});
      if (r.exit_code == -1) return true;  // killed by a signal
      if (!tolerate_errors) {
        EXPECT_EQ(r.exit_code, 0) << s.name << ": " << ::testing::PrintToString(s.commands[i]) << r.out << r.err;
      }
    }
    return false;
  }
  // The points each command of the step passes, in order, as NAME#N.
  std::vector<std::vector<std::string>> Discover(const Step& s, const fs::path& dir);

  void Snapshot() { Copy(p_.dir().path(), saved_.path()); }
  void Restore() { Copy(saved_.path(), p_.dir().path()); }

  // Every table equals the raw data's answer; no window applied twice.
  void Check(const Expected& e, const std::string& where) {
    EXPECT_EQ(p_.Difference("SELECT * FROM core.hourly", HourlySql(e)), 0) << where;
    EXPECT_EQ(p_.Difference("SELECT * FROM core.users", UsersSql(e)), 0) << where;
    EXPECT_EQ(p_.Difference("SELECT * FROM core.totals",
                            "SELECT count(*), sum(events) FROM (" + UsersSql(e) + ")"), 0)
        << where;
    if (e.busy) {
      EXPECT_EQ(p_.Difference("SELECT * FROM core.busy",
                              "SELECT user_id, events FROM (" + UsersSql(e) + ") WHERE events > 40"), 0)
          << where;
    } else {
      EXPECT_EQ(p_.Count("SELECT count(*) FROM duckdb_views() WHERE view_name = 'busy'"), 0) << where;
    }
    EXPECT_EQ(p_.Count("SELECT count(*) FROM _derived.log a JOIN _derived.log b ON a.table_name = b.table_name AND "
                       "a.rowid < b.rowid AND a.window_start < b.window_end AND b.window_start < a.window_end WHERE "
                       "a.status = 'success' AND b.status = 'success' AND a.operation IN ('create', 'append', "
                       "'merge') AND b.operation IN ('create', 'append', 'merge')"),
              0)
        << where;
    EXPECT_EQ(p_.Count("SELECT count(*) FROM _derived.state WHERE last_status NOT IN ('success', 'removed')"), 0)
        << where;
  }

  const WarehouseProject& project() const { return p_; }

 private:
  // The warehouse files (and marks), as a directory copy: a killed process leaves a WAL.
  static void Copy(const fs::path& from, const fs::path& to) {
    for (const char* f : {"warehouse.duckdb", "warehouse.duckdb.wal"}) {
      fs::remove(to / f);
      if (fs::exists(from / f)) fs::copy_file(from / f, to / f);
    }
    fs::remove_all(to / "tables");
    fs::copy(from / "tables", to / "tables", fs::copy_options::recursive);
  }

  WarehouseProject p_;
  testing::TempDir saved_;
};

std::vector<Step> Steps() {
  auto mark = [](const std::string& day) {
    return std::vector<std::string>{"source", "mark", "raw.events", "--through", day};
  };
  const std::vector<std::string> run = {"run", "--once"};
  std::vector<Step> s;
  s.push_back({"create", nullptr, {mark("2024-01-03"), run}, "2024-01-03T02:00:00Z", {"2024-01-03"}});
  s.push_back({"append", nullptr, {mark("2024-01-05"), run}, "2024-01-05T02:00:00Z", {"2024-01-05"}});
  s.push_back({"rebuild",
               [](const WarehouseProject& p) {
                 p.Write("tables/core/hourly.yaml", std::regex_replace(kHourly, std::regex("FACTOR"), "2"));
               },
               {mark("2024-01-06"), run}, "2024-01-06T02:00:00Z", {"2024-01-06", 2}});
  s.push_back({"restate",
               [](const WarehouseProject& p) {
                 p.Sql("UPDATE raw.events SET amount = amount + 1 WHERE ts >= '2024-01-02' AND ts < '2024-01-03'");
               },
               {{"source", "restate", "raw.events", "--from", "2024-01-02", "--to", "2024-01-03"}},
               "2024-01-06T02:00:00Z", {"2024-01-06", 2}});
  s.push_back({"metadata",
               [](const WarehouseProject& p) {
                 p.Write("tables/core/totals.yaml", R"(schedule: daily
description: every user so far
sql: SELECT count(*) AS users, sum(events) AS events FROM core.users
tests: [{row_count: {min: 1}}]
)");
               },
               {mark("2024-01-07"), run}, "2024-01-07T02:00:00Z", {"2024-01-07", 2}});
  s.push_back({"drop",
               [](const WarehouseProject& p) { fs::remove(p.dir().path() / "tables/core/busy.yaml"); },
               {run, {"drop", "core.busy"}}, "2024-01-07T03:00:00Z", {"2024-01-07", 2, false}});
  return s;
}

std::vector<std::string> ReadLines(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The kind of a point: its name without the statement's ordinal.
std::string KindOf(const std::string& point) { return std::regex_replace(point, std::regex(R"(\.\d+\.)"), ".N."); }

std::vector<std::vector<std::string>> CrashHarness::Discover(const Step& s, const fs::path& dir) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < s.commands.size(); ++i) {
    fs::path log = dir / (s.name + "." + std::to_string(i) + ".points");
    CommandResult r = Run(s.commands[i], s.now, {"DERIVED_CRASH_LOG=" + log.string()});
    EXPECT_EQ(r.exit_code, 0) << s.name << ": " << r.out << r.err;
    out.push_back(ReadLines(log));
  }
  return out;
}

// CI kills once per (innermost scope, verb, before/after) where the statement writes or
// commits (after a write, before and after a commit), across all steps: the same code path under a different outer scope (a repair's
// append, a restate's rebuild) is not repeated. DERIVED_CRASH_KINDS=1: every kind (full
// scope path) of every step, reads included; DERIVED_CRASH_ALL=1: every occurrence.
std::string ReducedKind(const std::string& kind) {
  static const std::regex kShape(R"(^(?:[a-z]+\.)*([a-z]+)\.N\.([a-z]+)\.(before|after)$)");
  std::smatch m;
  if (!std::regex_match(kind, m, kShape)) return kind;
  static const std::set<std::string> kWrites = {"insert", "update", "delete", "create", "drop", "alter", "comment",
                                                "commit"};
  if (!kWrites.count(m[2])) return "";
  // Before a write is after the statement ahead of it; around a commit both matter.
  if (m[2] != "commit" && m[3] == "before") return "";
  return std::string(m[1]) + "." + std::string(m[2]) + "." + std::string(m[3]);
}

TEST(CrashPoints, AKillAtAnyStatementLosesNothingAndAppliesNothingTwice) {
  const bool all = std::getenv("DERIVED_CRASH_ALL") != nullptr;
  const bool every_kind = std::getenv("DERIVED_CRASH_KINDS") != nullptr;
  std::set<std::string> reduced_covered;
  std::mt19937 rng(777);
  CrashHarness h;
  testing::TempDir tmp;
  int kills = 0, runs = 0;
  size_t passed_total = 0;
  std::set<std::string> kinds_covered, points_covered;
  for (const Step& step : Steps()) {
    SCOPED_TRACE(step.name);
    if (step.before) step.before(h.project());
    h.Snapshot();
    std::vector<std::vector<std::string>> passed = h.Discover(step, tmp.path());
    h.Check(step.expected, step.name + " without a crash");
    // Which to kill at (command, NAME#N): each kind's first occurrence where it writes
    // (every occurrence with DERIVED_CRASH_ALL), and a few random occurrences.
    std::vector<std::pair<int, std::string>> targets, any;
    std::set<std::string> kinds;
    for (size_t c = 0; c < passed.size(); ++c) {
      for (const auto& point : passed[c]) {
        any.emplace_back(static_cast<int>(c), point);
        std::string kind = KindOf(point.substr(0, point.find('#')));
        std::string reduced = ReducedKind(kind);
        bool take = all || (every_kind ? kinds.insert(kind).second
                                       : !reduced.empty() && reduced_covered.insert(reduced).second);
        if (take) targets.emplace_back(static_cast<int>(c), point);
      }
    }
    passed_total += any.size();
    ASSERT_FALSE(any.empty());
    targets.push_back(any[std::uniform_int_distribution<size_t>(0, any.size() - 1)(rng)]);
    h.Restore();
    for (const auto& [command, target] : targets) {
      ++runs;
      bool killed = h.RunStep(step, {"DERIVED_CRASH_AT=" + target}, true, command);
      EXPECT_TRUE(killed) << "not reached: " << target;
      if (killed) ++kills;
      std::string name = target.substr(0, target.find('#'));
      points_covered.insert(name);
      kinds_covered.insert(KindOf(name));
      h.RunStep(step, {}, /*tolerate_errors=*/true);  // the restart (a drop already done fails)
      h.Check(step.expected, step.name + " killed at " + target);
      if (::testing::Test::HasFailure()) return;
      h.Restore();
    }
    ASSERT_FALSE(h.RunStep(step, {}, false));
  }
  std::printf("[ crash points ] %zu points passed in 6 steps; %d runs, %d killed, %zu distinct points, %zu kinds\n",
              passed_total, runs, kills, points_covered.size(), kinds_covered.size());
  std::set<std::string> reduced;
  for (const auto& k : kinds_covered) reduced.insert(ReducedKind(k));
  for (const char* kind : {"append.commit.before", "append.commit.after", "merge.update.after", "merge.commit.before",
                           "rebuild.create.after", "swap.alter.after", "replace.commit.before", "view.create.after",
                           "drop.drop.after", "drop.commit.before", "restate.insert.after", "metadata.comment.after",
                           "sweep.commit.after"}) {
    EXPECT_TRUE(reduced.count(kind)) << kind;
  }
}

}  // namespace
}  // namespace derived
