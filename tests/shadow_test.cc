// Shadow environments end to end, through the real `derived` binary on both engines: a
// 30-table project built in production, one table changed on the "branch", and `derived
// shadow build` building exactly that table and its downstream into the environment's
// schemas, reading production for the rest. Production's tables and `_derived` are read
// whole before and after and must be identical; the environment's tables must equal plain
// SQL over the raw data for the range the report says it covers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <csignal>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine_testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::WarehouseProject;

constexpr const char* kNow = "2024-01-31T06:00:00Z";
constexpr int kChains = 10;

// core.daily_i (append) <- raw.events; mart.m_i (append; m_9 a view) <- core.daily_i;
// agg.sum_i (replace) <- mart.m_i: 30 tables.
std::string DailySql(int i, int offset) {
  return fmt::format(
      "SELECT date_trunc('day', ts) AS day, count(*) AS n, sum(amount) + {} AS total FROM raw.events "
      "WHERE ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}} GROUP BY 1",
      i + offset);
}

void WriteProject(const WarehouseProject& p, int changed = -1) {
  p.Write("sources/raw/events.yaml", testing::kEventsSource);
  for (int i = 0; i < kChains; ++i) {
    p.Write(fmt::format("tables/core/daily_{}.yaml", i),
            "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
            "tests:\n  - unique: [day]\nsql: " +
                DailySql(i, i == changed ? 100 : 0) + "\n");
    if (i == kChains - 1) {
      p.Write(fmt::format("tables/mart/m_{}.yaml", i),
              fmt::format("strategy: view\nsql: SELECT day, n * 2 AS n2, total FROM core.daily_{}\n", i));
    } else {
      p.Write(fmt::format("tables/mart/m_{}.yaml", i),
              fmt::format("schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                          "sql: SELECT day, n * 2 AS n2, total FROM core.daily_{} AS d WHERE day >= "
                          "{{{{ window_start }}}} AND day < {{{{ window_end }}}}\n",
                          i));
    }
    p.Write(fmt::format("tables/agg/sum_{}.yaml", i),
            fmt::format("schedule: daily\nstrategy: replace\nsql: SELECT count(*) AS days, sum(n2) AS n2, sum(total) AS total FROM "
                        "mart.m_{}\n",
                        i));
  }
}

// Every row of every table outside the environments' schemas, _derived's included, as
// text, sorted: what "production was not touched" compares.
std::map<std::string, std::vector<std::string>> Production(const WarehouseProject& p) {
  auto wh = p.Open();
  EXPECT_TRUE(wh.ok()) << wh.error().message;
  std::map<std::string, std::vector<std::string>> out;
  if (!wh.ok()) return out;
  auto tables = (*wh)->Query(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
      "('information_schema', 'pg_catalog') AND table_schema NOT LIKE 'shadow%' ORDER BY 1, 2");
  EXPECT_TRUE(tables.ok()) << tables.error().message;
  if (!tables.ok()) return out;
  for (const auto& r : tables->rows) {
    std::string name = fmt::format("\"{}\".\"{}\"", *r[0], *r[1]);
    auto rows = (*wh)->Query("SELECT * FROM " + name);
    EXPECT_TRUE(rows.ok()) << name << ": " << rows.error().message;
    if (!rows.ok()) continue;
    std::vector<std::string> lines;
    for (const auto& row : rows->rows) {
      std::string line;
      for (const auto& v : row) line += (v ? "'" + *v + "'" : "NULL") + "|";
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    out[name] = std::move(lines);
  }
  return out;
}

std::set<std::string> Schemas(const WarehouseProject& p, const std::string& prefix) {
  auto wh = p.Open();
  EXPECT_TRUE(wh.ok());
  std::set<std::string> out;
  if (!wh.ok()) return out;
  auto rows = (*wh)->Query("SELECT DISTINCT schema_name FROM information_schema.schemata");
  EXPECT_TRUE(rows.ok());
  for (const auto& r : rows->rows) {
    if (r[0] && r[0]->rfind(prefix, 0) == 0) out.insert(*r[0]);
  }
  return out;
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Commits every file of the project (a repository made first with `init`, on main).
bool CommitAll(const WarehouseProject& p, const std::string& message, bool init = false) {
  auto git = [&](const std::string& args) {
    return std::system(
        ("cd " + p.dir().str() + " && git -c user.email=t@example.com -c user.name=t " + args + " >/dev/null 2>&1").c_str());
  };
  if (init) {
    p.Write(".gitignore", "*.duckdb*\n.derived/\n");
    if (git("init -q -b main") != 0) return false;
  }
  return git("add -A") == 0 && git("commit -qm " + message) == 0;
}

// `derived run ARGS` for the project; on a server, it polls for what others commit.
std::vector<std::string> ServiceArgs(const WarehouseProject& p, std::vector<std::string> args) {
  args.insert(args.begin(), "run");
  args.insert(args.end(), {"--project", p.dir().str()});
  if (p.postgres()) args.insert(args.end(), {"--poll", "0.2"});
  return args;
}

::testing::AssertionResult Serving(const testing::Background& service) {
  if (Eventually([&] { return service.Output().find("serving every table") != std::string::npos; })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << service.Output() << service.Errors();
}

class ShadowEnvironments : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  void SetUp() override {
    p_ = std::make_unique<WarehouseProject>(GetParam());
    p_->Sql(testing::kEventsData);
    WriteProject(*p_);
    ASSERT_EQ(p_->Derived({"source", "mark", "raw.events", "--through", "2024-01-31"}, kNow).exit_code, 0);
    auto r = p_->Derived({"run", "--once"}, kNow);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_EQ(p_->Count("SELECT count(*) FROM core.daily_3"), 30);
  }

  // What core.daily_I holds with `offset` over [from, to), by plain SQL over raw.events.
  static std::string ExpectedDaily(int i, int offset, const std::string& from, const std::string& to) {
    return fmt::format(
        "SELECT date_trunc('day', ts) AS day, count(*) AS n, sum(amount) + {} AS total FROM raw.events "
        "WHERE ts >= TIMESTAMP '{}' AND ts < TIMESTAMP '{}' GROUP BY 1",
        i + offset, from, to);
  }

  std::unique_ptr<WarehouseProject> p_;
};

TEST_P(ShadowEnvironments, AChangedTableAndItsDownstreamAreBuiltBesideProductionWhichStaysAsItWas) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  ASSERT_GE(before.size(), 29u + 4u);  // 29 tables (one a view is not a table on every engine) and _derived

  WriteProject(p, /*changed=*/3);
  auto r = p.Derived({"shadow", "build", "--env", "pr_7", "--last", "3d", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> built;
  for (const auto& t : report["tables"]) built[t["table"]] = t["reason"];
  EXPECT_EQ(built, (std::map<std::string, std::string>{
                       {"core.daily_3", "changed"}, {"mart.m_3", "downstream"}, {"agg.sum_3", "downstream"}}));
  EXPECT_EQ(report["last"], "3 days");
  for (const auto& t : report["tables"]) {
    EXPECT_EQ(t["status"], "built") << t.dump();
    if (t["strategy"] == "append") {
      EXPECT_EQ(t["from"], "2024-01-28T00:00:00Z") << t.dump();
    }
  }
  // Only the three, in schemas of the environment's own.
  EXPECT_EQ(Schemas(p, "shadow__"), (std::set<std::string>{"shadow__pr_7___derived", "shadow__pr_7__agg",
                                                           "shadow__pr_7__core", "shadow__pr_7__mart"}));
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema LIKE 'shadow%' AND "
                    "table_schema NOT LIKE '%\\_\\_\\_derived' ESCAPE '\\'"),
            3);

  // The changed table over the range it covers, what reads it from the environment, and
  // the replace table over what the environment holds.
  const std::string from = "2024-01-28", to = "2024-01-31";
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__pr_7__core.daily_3", ExpectedDaily(3, 100, from, to)), 0);
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__pr_7__mart.m_3",
                         "SELECT day, n * 2 AS n2, total FROM (" + ExpectedDaily(3, 100, from, to) + ") e"),
            0);
  EXPECT_EQ(p.Scalar("SELECT days || ' ' || CAST(total AS BIGINT) FROM shadow__pr_7__agg.sum_3"),
            p.Scalar("SELECT count(*) || ' ' || CAST(sum(total) AS BIGINT) FROM (" + ExpectedDaily(3, 100, from, to) +
                     ") e"));
  // Its state and log rows are the environment's, marked with it.
  EXPECT_EQ(p.Count("SELECT count(*) FROM shadow__pr_7___derived.state"), 3);
  EXPECT_EQ(p.Count("SELECT count(*) FROM shadow__pr_7___derived.log WHERE operation = 'shadow' AND "
                    "(details->>'environment') = 'pr_7'"),
            3);

  // Production: every table and every row of _derived as it was.
  EXPECT_EQ(Production(p), before);

  // Built again with nothing changed since: nothing to build, nothing written anywhere.
  auto again = p.Derived({"shadow", "build", "--env", "pr_7"}, kNow);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Production(p), before);

  // Dropped: the environment's schemas go, production stays.
  auto drop = p.Derived({"shadow", "drop", "--env", "pr_7"}, kNow);
  ASSERT_EQ(drop.exit_code, 0) << drop.err;
  EXPECT_EQ(Schemas(p, "shadow__"), std::set<std::string>{});
  EXPECT_EQ(Production(p), before);
}

TEST_P(ShadowEnvironments, AFullBuildCoversEveryWindowFromTheStart) {
  WarehouseProject& p = *p_;
  WriteProject(p, /*changed=*/0);
  auto r = p.Derived({"shadow", "build", "--env", "full", "--full", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["full"], true);
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__full__core.daily_0", ExpectedDaily(0, 100, "2024-01-01", "2024-01-31")),
            0);
  // An unchanged chain is production's: the environment holds nothing of it.
  EXPECT_EQ(Schemas(p, "shadow__full__").count("shadow__full__core"), 1u);
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shadow__full__core'"), 1);
}

TEST_P(ShadowEnvironments, EnvironmentsAreListedDroppedAloneAndExpireWhenIdle) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  WriteProject(p, /*changed=*/1);
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "old"}, "2024-01-31T06:00:00Z").exit_code, 0);
  // Built in full: windows before now - last, which the source is complete through.
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "fresh", "--full"}, "2024-02-06T06:00:00Z").exit_code, 0);
  auto list = p.Derived({"shadow", "list", "--json"}, "2024-02-06T06:00:00Z");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto envs = nlohmann::json::parse(list.out);
  ASSERT_EQ(envs.size(), 2u) << list.out;
  EXPECT_EQ(envs[0]["environment"], "fresh");
  EXPECT_EQ(envs[1]["environment"], "old");
  EXPECT_EQ(envs[1]["last_built"], "2024-01-31T06:00:00Z");

  // A name that is not an environment, or not a name at all, drops nothing.
  auto none = p.Derived({"shadow", "drop", "--env", "nope"}, kNow);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no shadow environment 'nope' (there are: fresh, old)"));
  auto bad = p.Derived({"shadow", "drop", "--env", "core"}, kNow);
  EXPECT_EQ(bad.exit_code, 1);
  auto worse = p.Derived({"shadow", "drop", "--env", "x__core"}, kNow);
  EXPECT_EQ(worse.exit_code, 2);
  EXPECT_THAT(worse.err, HasSubstr("--env: environment name 'x__core'"));

  // Seven idle days (derived.yaml's default) later, `old` is dropped by the next build.
  p.Configure("shadow: {expire_after: 7 days, last: 1 day}\n");
  auto later = p.Derived({"shadow", "build", "--env", "fresh", "--full"}, "2024-02-08T06:00:00Z");
  ASSERT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_THAT(later.err, HasSubstr("dropped shadow environment old: idle for 7 days"));
  EXPECT_EQ(Schemas(p, "shadow__old__"), std::set<std::string>{});
  EXPECT_EQ(Schemas(p, "shadow__fresh__").size(), 4u);
  EXPECT_EQ(Production(p), before);
}

TEST_P(ShadowEnvironments, ABranchThatDoesNotValidateBuildsNothing) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  p.Write("tables/core/daily_2.yaml", "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                                      "sql: SELECT day FROM core.nowhere\n");
  auto r = p.Derived({"shadow", "build", "--env", "broken"}, kNow);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/daily_2.yaml"));
  EXPECT_THAT(r.err, HasSubstr("no shadow environment was built"));
  EXPECT_EQ(Schemas(p, "shadow__"), std::set<std::string>{});
  EXPECT_EQ(Production(p), before);
}

TEST_P(ShadowEnvironments, TwoBuildsBesideARunningServiceNeitherCollideNorBlockOrCorruptProduction) {
  WarehouseProject& p = *p_;
  // The service keeps production's definitions (it does not reload the working tree).
  testing::Background service(ServiceArgs(p, {"--watch", "0"}), {std::string("DERIVED_NOW=") + kNow});
  ASSERT_TRUE(Serving(service));
  // Production's checkout, for commands production runs on a server (each opens it with
  // the definitions of its own checkout; on an embedded warehouse they go through the
  // service, which has production's already).
  testing::TempDir production;
  std::filesystem::copy(p.dir().path(), production.path(), std::filesystem::copy_options::recursive);
  WriteProject(p, /*changed=*/3);
  // Production work at the same time: corrected raw data, outside the environments' range,
  // restated through the service, which rebuilds those windows all the way down.
  p.Sql("UPDATE raw.events SET amount = amount + 1 WHERE ts >= TIMESTAMP '2024-01-10' AND ts < TIMESTAMP '2024-01-13'");
  auto shadow_args = [&](const std::string& env) {
    return std::vector<std::string>{"shadow", "build", "--env", env, "--project", p.dir().str(), "--now", kNow};
  };
  testing::Background a(shadow_args("env_a")), b(shadow_args("env_b"));
  std::vector<std::string> restate_args = {"source", "restate", "raw.events", "--from", "2024-01-10", "--to",
                                           "2024-01-13", "--now", kNow, "--project"};
  restate_args.push_back(p.postgres() ? production.str() : p.dir().str());
  auto restate = testing::RunDerived(restate_args);
  EXPECT_EQ(restate.exit_code, 0) << restate.out << restate.err;
  for (auto* build : {&a, &b}) {
    auto r = build->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("3 tables"));
  }
  service.Signal(SIGTERM);
  auto stopped = service.Wait();
  ASSERT_EQ(stopped.exit_code, 0) << stopped.out << stopped.err;

  // Production: production's definitions over the corrected data, every window.
  for (int i = 0; i < kChains; ++i) {
    const std::string daily = ExpectedDaily(i, 0, "2024-01-01", "2024-01-31");
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM core.daily_{}", i), daily), 0) << i;
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM mart.m_{}", i), "SELECT day, n * 2 AS n2, total FROM (" + daily + ") e"), 0)
        << i;
    EXPECT_EQ(p.Scalar(fmt::format("SELECT days || ' ' || CAST(total AS BIGINT) FROM agg.sum_{}", i)),
              p.Scalar("SELECT count(*) || ' ' || CAST(sum(total) AS BIGINT) FROM (" + daily + ") e"))
        << i;
  }
  // Each environment: its own three tables, as a build alone makes them.
  const std::string shadow_daily = ExpectedDaily(3, 100, "2024-01-28", "2024-01-31");
  for (const std::string env : {"env_a", "env_b"}) {
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM shadow__{}__core.daily_3", env), shadow_daily), 0) << env;
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM shadow__{}__mart.m_3", env),
                           "SELECT day, n * 2 AS n2, total FROM (" + shadow_daily + ") e"),
              0)
        << env;
    EXPECT_EQ(p.Count(fmt::format("SELECT count(*) FROM shadow__{}___derived.state", env)), 3) << env;
  }
}

TEST_P(ShadowEnvironments, AFullBuildIsPromotedOnMergeAndEqualsAProductionRebuild) {
  WarehouseProject& p = *p_;
  WriteProject(p, /*changed=*/3);
  // A range-limited environment is never promoted: production rebuilds.
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "partial"}, kNow).exit_code, 0);
  auto partial = p.Derived({"shadow", "promote", "--env", "partial", "--json"}, kNow);
  ASSERT_EQ(partial.exit_code, 0) << partial.err;
  for (const auto& t : nlohmann::json::parse(partial.out)) {
    EXPECT_FALSE(t["promoted"].get<bool>()) << t.dump();
    if (t["table"] == "core.daily_3") {
      EXPECT_THAT(t["why"].get<std::string>(), HasSubstr("not in full"));
    }
  }

  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "full", "--full"}, kNow).exit_code, 0);
  // The branch merges: production's definitions are the branch's now (the working tree).
  auto r = p.Derived({"shadow", "promote", "--env", "full", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::map<std::string, bool> promoted;
  for (const auto& t : nlohmann::json::parse(r.out)) promoted[t["table"]] = t["promoted"];
  EXPECT_EQ(promoted, (std::map<std::string, bool>{{"core.daily_3", true}, {"mart.m_3", true}, {"agg.sum_3", true}}))
      << r.out;
  // What a production rebuild makes, by plain SQL over the raw data.
  const std::string daily = ExpectedDaily(3, 100, "2024-01-01", "2024-01-31");
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily_3", daily), 0);
  EXPECT_EQ(p.Difference("SELECT * FROM mart.m_3", "SELECT day, n * 2 AS n2, total FROM (" + daily + ") e"), 0);
  EXPECT_EQ(p.Scalar("SELECT days || ' ' || CAST(total AS BIGINT) FROM agg.sum_3"),
            p.Scalar("SELECT count(*) || ' ' || CAST(sum(total) AS BIGINT) FROM (" + daily + ") e"));
  // Logged as promotions, and production has nothing left to rebuild.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'promote' AND status = 'success'"), 3);
  auto run = p.Derived({"run", "--once", "--json"}, kNow);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  for (const auto& t : nlohmann::json::parse(run.out)["tables"]) {
    EXPECT_NE(t["status"], "built") << t.dump();
  }
  // Promoted again: production has these definitions already.
  auto again = p.Derived({"shadow", "promote", "--env", "full", "--json"}, kNow);
  for (const auto& t : nlohmann::json::parse(again.out)) EXPECT_FALSE(t["promoted"].get<bool>()) << t.dump();
}

TEST_P(ShadowEnvironments, AnInputThatMovedOnSinceTheBuildIsRebuiltNotPromoted) {
  WarehouseProject& p = *p_;
  WriteProject(p, /*changed=*/3);
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "stale", "--full"}, kNow).exit_code, 0);
  // The source is complete further now: a rebuild would read more than the environment did.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-02-01"}, "2024-02-01T06:00:00Z").exit_code, 0);
  auto r = p.Derived({"shadow", "promote", "--env", "stale", "--json"}, "2024-02-01T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& t : nlohmann::json::parse(r.out)) {
    EXPECT_FALSE(t["promoted"].get<bool>()) << t.dump();
    if (t["table"] == "core.daily_3") {
      EXPECT_THAT(t["why"].get<std::string>(), HasSubstr("its input raw.events"));
    }
  }
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'promote'"), 0);
}

TEST_P(ShadowEnvironments, TheServicePromotesWhenItSeesTheMergedVersion) {
  WarehouseProject& p = *p_;
  ASSERT_TRUE(CommitAll(p, "base", /*init=*/true));
  // Production follows main; the change is built from the working tree, in full.
  testing::Background service(ServiceArgs(p, {"--branch", "main", "--watch", "0.2"}), {std::string("DERIVED_NOW=") + kNow});
  ASSERT_TRUE(Serving(service));
  WriteProject(p, /*changed=*/3);
  auto built = p.Derived({"shadow", "build", "--env", "feature", "--full"}, kNow);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  // Merged: the service reloads, and swaps the environment's build in.
  ASSERT_TRUE(CommitAll(p, "change"));
  ASSERT_TRUE(Eventually([&] {
    return p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'promote' AND status = 'success'") == 3;
  })) << service.Output() << service.Errors();
  service.Signal(SIGTERM);
  auto stopped = service.Wait();
  ASSERT_EQ(stopped.exit_code, 0) << stopped.out << stopped.err;
  // Nothing was rebuilt in production for the change, and it holds what a rebuild would.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily_3' AND operation IN "
                    "('create', 'rebuild', 'append', 'backfill') AND logical_now IS NOT NULL AND definition_hash = "
                    "(SELECT definition_hash FROM _derived.state WHERE table_name = 'core.daily_3')"),
            0);
  const std::string daily = ExpectedDaily(3, 100, "2024-01-01", "2024-01-31");
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily_3", daily), 0);
  EXPECT_EQ(p.Difference("SELECT * FROM mart.m_3", "SELECT day, n * 2 AS n2, total FROM (" + daily + ") e"), 0);
  EXPECT_EQ(p.Scalar("SELECT days || ' ' || CAST(total AS BIGINT) FROM agg.sum_3"),
            p.Scalar("SELECT count(*) || ' ' || CAST(sum(total) AS BIGINT) FROM (" + daily + ") e"));
}

TEST_P(ShadowEnvironments, AReplaceTableCanReadASampleOfProductionAndTheReportSaysSo) {
  WarehouseProject& p = *p_;
  // agg.sum_5 changes; it reads production's mart.m_5 (30 rows).
  p.Write("tables/agg/sum_5.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT count(*) AS days, sum(n2) AS n2, "
                                   "sum(total) + 1 AS total FROM mart.m_5\n");
  auto r = p.Derived({"shadow", "build", "--env", "sampled", "--sample", "50%", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["sample_percent"], 50.0);
  EXPECT_FALSE(report["full"].get<bool>());
  EXPECT_THAT(report["covers"].get<std::string>(), HasSubstr("replace tables read a 50% sample"));
  ASSERT_EQ(report["tables"].size(), 1u);
  EXPECT_TRUE(report["tables"][0]["sampled"].get<bool>());
  const int64_t days = p.Count("SELECT days FROM shadow__sampled__agg.sum_5");
  EXPECT_GT(days, 4);
  EXPECT_LT(days, 26);
  // The same rows every time: another environment sampled alike holds the same.
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "again", "--sample", "50%"}, kNow).exit_code, 0);
  EXPECT_EQ(p.Scalar("SELECT days || ' ' || n2 FROM shadow__again__agg.sum_5"),
            p.Scalar("SELECT days || ' ' || n2 FROM shadow__sampled__agg.sum_5"));
  // Production is read whole without it, and a sample is never promoted.
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "whole", "--full"}, kNow).exit_code, 0);
  EXPECT_EQ(p.Count("SELECT days FROM shadow__whole__agg.sum_5"), 30);
  auto promote = p.Derived({"shadow", "promote", "--env", "sampled", "--json"}, kNow);
  ASSERT_EQ(promote.exit_code, 0) << promote.err;
  auto done = nlohmann::json::parse(promote.out);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0]["promoted"].get<bool>());
  EXPECT_THAT(done[0]["why"].get<std::string>(), HasSubstr("sample"));
  // A share that is not one is refused before anything runs.
  auto bad = p.Derived({"shadow", "build", "--env", "bad", "--sample", "0%"}, kNow);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--sample: expected a percent above 0 and at most 100"));
}

TEST_P(ShadowEnvironments, AnEnvironmentsViewNeverHoldsUpAProductionSwap) {
  WarehouseProject& p = *p_;
  // A new view on the branch reads production's agg.sum_0, which a restatement replaces.
  p.Write("tables/mart/v_new.yaml", "strategy: view\nsql: SELECT days, total FROM agg.sum_0\n");
  auto r = p.Derived({"shadow", "build", "--env", "views"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Scalar("SELECT days FROM shadow__views__mart.v_new"), "30");
  std::filesystem::remove(p.dir().path() / "tables/mart/v_new.yaml");
  // Production swaps agg.sum_0 in again, with a column less: the environment is not in the way.
  p.Write("tables/agg/sum_0.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT count(*) AS days FROM mart.m_0\n");
  auto run = p.Derived({"run", "--once"}, kNow);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("agg.sum_0"));
  EXPECT_EQ(p.Scalar("SELECT days FROM agg.sum_0"), "30");
}

TEST_P(ShadowEnvironments, CiBesideARunningServiceWritesTheSummaryWhereTheClientSays) {
  WarehouseProject& p = *p_;
  ASSERT_TRUE(CommitAll(p, "base", /*init=*/true));
  testing::Background service(ServiceArgs(p, {"--branch", "main", "--watch", "0"}), {std::string("DERIVED_NOW=") + kNow});
  ASSERT_TRUE(Serving(service));
  WriteProject(p, /*changed=*/3);
  testing::TempDir elsewhere;  // the client's folder, not the service's
  const std::string summary = (elsewhere.path() / "summary.md").string();
  auto r = p.Derived({"ci", "--base", "main", "--summary", summary}, kNow);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("passed; summary in " + summary));
  std::string md = elsewhere.Read("summary.md");
  EXPECT_THAT(md, HasSubstr("## Derived CI: passed"));
  EXPECT_THAT(md, HasSubstr("| `core.daily_3` | changed | built | breaking | 3 → 3 | 0 / 0 / 3 | agg.sum_3, mart.m_3 |"));
  EXPECT_THAT(md, HasSubstr("| `mart.m_3` | downstream of `core.daily_3` | built |"));
  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait().exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ShadowEnvironments, testing::kBothEngines, testing::EngineName);

// Diffs, each case a branch of core.daily built in full into an environment of its own
// and compared with production, the expected figures by plain SQL over raw.events.
class ShadowDiffs : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  // core.daily keyed by day (a unique test), read by two tables: reader_n reads n,
  // reader_total reads total; nobody reads n_dup.
  static std::string Daily(const std::string& select, const std::string& filter, const std::string& more_tests = "") {
    return "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\ntests:\n  - unique: [day]\n" +
           more_tests + "sql: SELECT date_trunc('day', ts) AS day, " +
           select + " FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} AND " + filter +
           " GROUP BY 1\n";
  }
  static constexpr const char* kBaseSelect = "count(*) AS n, sum(amount) AS total, count(*) AS n_dup";
  static constexpr const char* kBaseFilter = "ts < TIMESTAMP '2024-01-25'";

  void SetUp() override {
    p_ = std::make_unique<WarehouseProject>(GetParam());
    p_->Sql(testing::kEventsData);
    p_->Write("sources/raw/events.yaml", testing::kEventsSource);
    p_->Write("tables/core/daily.yaml", Daily(kBaseSelect, kBaseFilter));
    p_->Write("tables/mart/reader_n.yaml",
              "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
              "sql: SELECT day, n FROM core.daily WHERE day >= {{ window_start }} AND day < {{ window_end }}\n");
    p_->Write("tables/mart/reader_total.yaml",
              "schedule: daily\nstrategy: replace\nsql: SELECT sum(total) AS total FROM core.daily\n");
    ASSERT_EQ(p_->Derived({"source", "mark", "raw.events", "--through", "2024-01-31"}, kNow).exit_code, 0);
    auto r = p_->Derived({"run", "--once"}, kNow);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // Builds the branch in full into `env` and returns the diff of core.daily, and the whole.
  nlohmann::json DiffOf(const std::string& env, nlohmann::json* all = nullptr) {
    auto b = p_->Derived({"shadow", "build", "--env", env, "--full"}, kNow);
    EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
    auto d = p_->Derived({"shadow", "diff", "--env", env, "--json"}, kNow);
    EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
    auto j = nlohmann::json::parse(d.out);
    if (all) *all = j;
    for (const auto& t : j["tables"]) {
      if (t["table"] == "core.daily") return t;
    }
    ADD_FAILURE() << "core.daily is not in the diff: " << d.out;
    return {};
  }

  std::unique_ptr<WarehouseProject> p_;
};

TEST_P(ShadowDiffs, ANewColumnNobodyReadsIsNotBreaking) {
  p_->Write("tables/core/daily.yaml", Daily(std::string(kBaseSelect) + ", max(amount) AS top", kBaseFilter));
  auto d = DiffOf("added");
  ASSERT_EQ(d["schema"]["added"].size(), 1u) << d.dump();
  EXPECT_EQ(d["schema"]["added"][0]["name"], "top");
  EXPECT_EQ(d["schema"]["removed"].size(), 0u);
  EXPECT_EQ(d["rows"]["production"], 24);
  EXPECT_EQ(d["rows"]["shadow"], 24);
  EXPECT_EQ(d["key_changes"], (nlohmann::json{{"added", 0}, {"removed", 0}, {"changed", 0}}));
  EXPECT_EQ(d["impact"], "non-breaking");
  EXPECT_EQ(d["affected"].size(), 0u);
}

TEST_P(ShadowDiffs, ARemovedColumnNobodyReadsIsNotBreaking) {
  p_->Write("tables/core/daily.yaml", Daily("count(*) AS n, sum(amount) AS total", kBaseFilter));
  auto d = DiffOf("removed");
  ASSERT_EQ(d["schema"]["removed"].size(), 1u) << d.dump();
  EXPECT_EQ(d["schema"]["removed"][0]["name"], "n_dup");
  EXPECT_EQ(d["changed_columns"], nlohmann::json::array({"n_dup"}));
  EXPECT_EQ(d["impact"], "non-breaking");
}

TEST_P(ShadowDiffs, AChangedColumnReadDownstreamBreaksOnlyItsReaders) {
  p_->Write("tables/core/daily.yaml", Daily("count(*) AS n, sum(amount) * 2 AS total, count(*) AS n_dup", kBaseFilter));
  auto d = DiffOf("changed");
  // Every day whose total is not zero changes (plain SQL over the raw rows).
  const int64_t changed = p_->Count(
      "SELECT count(*) FROM (SELECT date_trunc('day', ts) AS day, sum(amount) AS t FROM raw.events WHERE ts < "
      "TIMESTAMP '2024-01-25' GROUP BY 1) d WHERE t <> 0");
  EXPECT_EQ(d["key_changes"], (nlohmann::json{{"added", 0}, {"removed", 0}, {"changed", changed}})) << d.dump();
  EXPECT_EQ(d["changed_values"], (nlohmann::json{{"total", changed}}));
  EXPECT_EQ(d["impact"], "breaking");
  EXPECT_EQ(d["affected"], nlohmann::json::array({"mart.reader_total"}));
  // The sample shows both sides of a changed row.
  ASSERT_FALSE(d["sample"].empty());
  const auto& row = d["sample"][0]["row"];
  EXPECT_EQ(d["sample"][0]["kind"], "changed");
  EXPECT_DOUBLE_EQ(std::stod(row["shadow.total"].get<std::string>()), 2 * std::stod(row["production.total"].get<std::string>()));
}

TEST_P(ShadowDiffs, AChangedFilterAddsAndRemovesRowsAndBreaksEveryReader) {
  p_->Write("tables/core/daily.yaml", Daily(kBaseSelect, "ts >= TIMESTAMP '2024-01-03'"));
  auto d = DiffOf("filter");
  auto days = [&](const std::string& where) {
    return p_->Count("SELECT count(DISTINCT date_trunc('day', ts)) FROM raw.events WHERE ts < TIMESTAMP '2024-01-31' AND " +
                     where);
  };
  const int64_t added = days("ts >= TIMESTAMP '2024-01-25'"), removed = days("ts < TIMESTAMP '2024-01-03'");
  EXPECT_EQ(added, 6);
  EXPECT_EQ(d["key_changes"], (nlohmann::json{{"added", added}, {"removed", removed}, {"changed", 0}})) << d.dump();
  EXPECT_EQ(d["rows"]["production"], 24);
  EXPECT_EQ(d["rows"]["shadow"], 24 - removed + added);
  EXPECT_EQ(d["windows"].size(), static_cast<size_t>(added + removed));
  EXPECT_EQ(d["impact"], "breaking");
  EXPECT_EQ(d["affected"], nlohmann::json::array({"mart.reader_n", "mart.reader_total"}));
  int removed_samples = 0;
  for (const auto& s : d["sample"]) removed_samples += s["kind"] == "key removed" ? 1 : 0;
  EXPECT_EQ(removed_samples, removed);
}

TEST_P(ShadowDiffs, AFailingShadowTestFailsCiWithItsSampleRowsInTheSummary) {
  const auto& dir = p_->dir();
  ASSERT_TRUE(CommitAll(*p_, "base", /*init=*/true));
  // Unchanged: ci passes and builds nothing.
  auto same = p_->Derived({"ci", "--base", "main"}, kNow);
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_THAT(same.out, HasSubstr("nothing to build"));

  // A test that fails on the branch's data: n is never above 2.
  p_->Write("tables/core/daily.yaml",
            Daily(kBaseSelect, kBaseFilter, "  - accepted_values: {column: n, values: ['1', '2']}\n"));
  const std::string summary = (dir.path() / "summary.md").string();  // read back with dir.Read
  auto r = p_->Derived({"ci", "--base", "main", "--full", "--summary", summary}, kNow);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::string md = dir.Read("summary.md");
  EXPECT_THAT(md, HasSubstr("## Derived CI: failed"));
  // Only its tests changed: it alone is built, and tested.
  EXPECT_THAT(md, HasSubstr("| `core.daily` | tests | test_failed |"));
  EXPECT_THAT(md, HasSubstr("test `accepted_values_n`, 24 offending rows"));
  // A sample row: the first day's, as plain SQL computes it.
  EXPECT_THAT(md, HasSubstr("| " + p_->Scalar("SELECT count(*) FROM raw.events WHERE ts < TIMESTAMP '2024-01-02'") + " |"));
  EXPECT_THAT(md, Not(HasSubstr("mart.reader_n")));

  // A bad base is an error, and the summary says so.
  auto bad = p_->Derived({"ci", "--base", "no-such-branch"}, kNow);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("'no-such-branch' is not a commit"));
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ShadowDiffs, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
