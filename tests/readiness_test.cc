// The differential, property-based test of readiness: random projects (random_project.h)
// driven through random steps (staggered arrivals and marks, a clock ahead of the data,
// late data with restatements, changed definitions, a replaced file), run by `run --once`
// and by the service. After every step, against an oracle that knows nothing of Derived's
// code:
//   (a) every table holds what plain SQL over the raw data says, for its completeness;
//   (b) every completeness is exactly what the inputs allow: as soon as, and no sooner;
//   (c) no window is applied twice outside repairs, and nothing failed.
// DERIVED_SOAK_SEEDS=N runs N seeds per mode (`make soak SEEDS=N`); CI runs a few.
// DERIVED_SEED=N replays the seed a failure names (with DERIVED_SOAK_SEEDS, starts there).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "compile/compiler.h"
#include "engine/engine.h"
#include "engine/intervals.h"
#include "engine_testing.h"
#include "random_project.h"
#include "service/service.h"
#include "time/clock.h"
#include "postgres_testing.h"

namespace derived {
namespace {

using testing::GenNode;
using testing::RandomProject;

Timestamp Hours(Timestamp t, int64_t h) { return {t.seconds + h * 3600}; }

std::string Lit(Timestamp t) { return FormatSqlLiteral(t); }

// The project's warehouse: its DuckDB file, or the PostgreSQL database it names.
std::unique_ptr<Warehouse> OpenFor(const RandomProject& proj, const std::string& dsn) {
  auto wh = testing::OpenTestWarehouse(proj.root() + "/warehouse.duckdb", dsn);
  if (!wh.ok()) throw std::runtime_error(wh.error().message);
  return std::move(*wh);
}

// Brings the warehouse up to date at a time: `run --once` in process, or the service.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual Warehouse& warehouse() = 0;
  virtual void Mark(const std::string& source, Timestamp through, Timestamp now) = 0;
  virtual void Restate(const std::string& source, Window w, Timestamp now) = 0;
  virtual void Reload() = 0;  // the project's files changed
  virtual void Run(Timestamp now) = 0;
  virtual std::vector<TableStatus> Status(Timestamp now) = 0;
};

class OnceRunner final : public Runner {
 public:
  OnceRunner(const RandomProject& proj, const std::string& dsn) : root_(proj.root()), base_(OpenFor(proj, dsn)) {}
  Warehouse& warehouse() override { return *base_; }
  void Mark(const std::string& source, Timestamp through, Timestamp now) override {
    auto st = Engine(now)->MarkSource(source, through);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Restate(const std::string& source, Window w, Timestamp now) override {
    auto r = Engine(now)->Restate(source, w.start, w.end, nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Expect(*r, "restate " + source);
  }
  void Reload() override { cp_.reset(); }
  void Run(Timestamp now) override {
    auto r = Engine(now)->RunOnce("", nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Expect(*r, "run --once");
  }
  std::vector<TableStatus> Status(Timestamp now) override {
    auto s = Engine(now)->Status();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : std::vector<TableStatus>{};
  }

 private:
  std::unique_ptr<derived::Engine> Engine(Timestamp now) {
    if (!cp_) {
      CompileOptions co;
      co.threads = 1;
      co.now = now;
      auto cp = Compile(root_, co);
      if (!cp.ok()) throw std::runtime_error(cp.error().message);
      EXPECT_FALSE(cp->diags.has_errors()) << cp->diags.all().front().ToString();
      cp_ = std::make_shared<CompiledProject>(std::move(*cp));
      an_ = AnalyzeProject(*cp_);
    }
    auto session = base_->Connect();
    auto e = Engine::Open(an_, std::move(*session), now);
    if (!e.ok()) throw std::runtime_error(e.error().message);
    if (auto st = (*e)->LoadSources(); !st.ok()) throw std::runtime_error(st.error().message);
    return std::move(*e);
  }
  static void Expect(const RunReport& r, const std::string& what) {
    for (const auto& o : r.tables) EXPECT_FALSE(o.failed()) << what << ": " << o.table << ": " << o.detail;
  }

  std::string root_;
  std::unique_ptr<Warehouse> base_;
  std::shared_ptr<CompiledProject> cp_;
  std::shared_ptr<const ProjectAnalysis> an_;
};

class ServiceRunner final : public Runner {
 public:
  ServiceRunner(const std::string& root, Timestamp now) : clock_(now) {
    ServiceOptions o;
    o.project_dir = root;
    o.workers = 2;
    o.clock = &clock_;
    o.tick_seconds = 0;  // the test ticks
    o.poll_seconds = 1e9;
    o.watch_seconds = 0;  // and reloads
    o.use_cache = false;
    auto svc = Service::Start(o, [this](const ServiceEvent& e) {
      if (e.kind == ServiceEvent::Kind::kFinished && e.outcome.failed()) {
        std::lock_guard lock(mu_);
        failures_.push_back(e.outcome.table + ": " + e.outcome.detail);
      }
    });
    if (!svc.ok()) throw std::runtime_error(svc.error().message);
    svc_ = std::move(*svc);
    auto session = svc_->Connect();
    if (!session.ok()) throw std::runtime_error(session.error().message);
    wh_ = std::move(*session);
  }
  ~ServiceRunner() override {
    wh_.reset();
    svc_.reset();
  }
  Warehouse& warehouse() override { return *wh_; }
  void Mark(const std::string& source, Timestamp through, Timestamp now) override {
    clock_.Set(now);
    auto st = svc_->MarkSource(source, through);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Restate(const std::string& source, Window w, Timestamp now) override {
    clock_.Set(now);
    auto st = svc_->Exclusive([&] {
      auto e = svc_->OpenEngine();
      ASSERT_TRUE(e.ok()) << e.error().message;
      auto r = (*e)->Restate(source, w.start, w.end, nullptr);
      ASSERT_TRUE(r.ok()) << r.error().message;
      for (const auto& o : r->tables) EXPECT_FALSE(o.failed()) << o.table << ": " << o.detail;
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Reload() override {
    auto r = svc_->Reload();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void Run(Timestamp now) override {
    clock_.Set(now);
    svc_->Tick(true);
    svc_->WaitIdle();
    std::lock_guard lock(mu_);
    for (const auto& f : failures_) ADD_FAILURE() << "the service: " << f;
    failures_.clear();
  }
  std::vector<TableStatus> Status(Timestamp now) override {
    auto e = svc_->OpenEngine();
    EXPECT_TRUE(e.ok());
    if (!e.ok()) return {};
    (*e)->SetNow(now);
    auto s = (*e)->Status();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : std::vector<TableStatus>{};
  }

 private:
  FixedClock clock_;
  std::unique_ptr<Service> svc_;
  std::unique_ptr<Warehouse> wh_;
  std::mutex mu_;
  std::vector<std::string> failures_;
};

struct Tally {
  int seeds = 0, steps = 0, checks = 0, restatements = 0, changes = 0, replaced_files = 0;
};

// One seed: a project, its raw data as it lands, and the bookkeeping the oracle needs.
class Driver {
 public:
  Driver(uint64_t seed, bool service, bool postgres, Tally* tally)
      : seed_(seed), rng_(seed * 7919 + 17), pg_(postgres ? std::make_unique<testing::PostgresDatabase>() : nullptr),
        proj_(seed, dir_.str(), pg_ ? pg_->dsn() : ""), tally_(tally) {
    if (pg_ && !pg_->ok()) throw std::runtime_error("no PostgreSQL server");
    proj_.WriteFiles();
    if (!pg_) {
      for (int w = 0; w < RandomProject::kCsvWeeks; ++w) proj_.WriteCsvWeek(w, 0);
    }
    now_ = Hours(RandomProject::Start(), 6);
    {  // The raw tables exist before anything reads them.
      auto wh = OpenFor(proj_, pg_ ? pg_->dsn() : "");
      std::string sql = "CREATE SCHEMA raw;";
      for (size_t i = 0; i < proj_.nodes().size(); ++i) {
        if (proj_.nodes()[i].kind != GenNode::Kind::kSource) continue;
        sql += fmt::format("CREATE TABLE {} (id BIGINT, k BIGINT, ts TIMESTAMP, v BIGINT, w BIGINT);",
                           proj_.nodes()[i].name);
        landed_[static_cast<int>(i)] = RandomProject::Start();
      }
      sql += "CREATE TABLE raw.dim AS SELECT i AS k, 'label ' || i AS label FROM generate_series(0, 5) t(i);";
      auto st = wh->Execute(sql);
      if (!st.ok()) throw std::runtime_error(st.error().message);
    }
    if (service) {
      runner_ = std::make_unique<ServiceRunner>(dir_.str(), now_);
    } else {
      runner_ = std::make_unique<OnceRunner>(proj_, pg_ ? pg_->dsn() : "");
    }
  }

  std::string Where() const { return fmt::format("seed {} step {} now {}", seed_, step_, FormatIso(now_)); }

  void Step() {
    ++step_;
    now_ = Hours(now_, Random(0, 60));
    for (auto& [i, landed] : landed_) {
      const GenNode& n = proj_.nodes()[i];
      // Data lands behind the clock, now and then a little ahead of it.
      Timestamp until = std::min(Hours(now_, Random(0, 5) == 0 ? 4 : 0), Hours(landed, Random(0, 96)));
      if (until > landed) Land(i, landed, until);
      landed = std::max(landed, until);
      if (n.query_freshness || Random(0, 3) == 0) continue;
      // The pipeline marks some of what landed: on the hour, exactly, or anywhere.
      Timestamp from = marks_.count(i) ? marks_[i] : RandomProject::Start();
      if (!(from < landed)) continue;
      int64_t span = landed.seconds - from.seconds;
      Timestamp mark = Random(0, 1) ? Timestamp{landed.seconds - landed.seconds % 3600}
                                    : Timestamp{from.seconds + static_cast<int64_t>(rng_() % (span + 1))};
      if (mark > from) {
        marks_[i] = mark;
        runner_->Mark(n.name, mark, now_);
      }
    }
    if (Random(0, 3) == 0) LateData();
    if (Random(0, 4) == 0) ChangeDefinition();
    if (!pg_ && Random(0, 4) == 0) {  // a week already read, mostly
      int64_t weeks = (now_.seconds - RandomProject::Start().seconds) / (7 * 86400);
      proj_.WriteCsvWeek(Random(0, std::min<int64_t>(weeks, RandomProject::kCsvWeeks - 1)), ++csv_version_);
      ++tally_->replaced_files;
    }
    runner_->Run(now_);
    Check();
  }

 private:
  int64_t Random(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1)); }

  // Rows of source `i` with times in [from, to): one every hour or two, each time unique
  // in the source (so latest/earliest never tie).
  void Land(int i, Timestamp from, Timestamp to) {
    std::vector<std::string> rows;
    for (int64_t t = from.seconds + Random(0, 3599); t < to.seconds; t += Random(1800, 7200)) rows.push_back(Row(i, t));
    Insert(i, rows);
  }

  std::string Row(int i, int64_t t) {
    while (used_[i].count(t)) ++t;
    used_[i].insert(t);
    int64_t id = next_id_++;
    std::string w = Random(0, 4) == 0 ? "NULL" : std::to_string(Random(0, 9));
    max_ts_[i] = std::max(max_ts_[i].value_or(Timestamp{t}), Timestamp{t});
    return fmt::format("({}, {}, {}, {}, {})", id, Random(0, 7), Lit(Timestamp{t}), Random(0, 100), w);
  }

  void Insert(int i, const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    std::string values;
    for (const auto& r : rows) values += (values.empty() ? "" : ", ") + r;
    auto st = runner_->warehouse().Execute(fmt::format("INSERT INTO {} VALUES {}", proj_.nodes()[i].name, values));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  // Rows arrive for a range already complete, and the pipeline says so.
  void LateData() {
    std::vector<int> complete;
    for (const auto& [i, landed] : landed_) {
      auto c = Complete(i);
      if (c && *c > Hours(RandomProject::Start(), 2)) complete.push_back(i);
    }
    if (complete.empty()) return;
    int i = complete[static_cast<size_t>(Random(0, static_cast<int64_t>(complete.size()) - 1))];
    Timestamp c = *Complete(i);
    Timestamp a{RandomProject::Start().seconds + Random(0, c.seconds - RandomProject::Start().seconds - 3600)};
    Timestamp b = std::min(c, Hours(a, Random(1, 12)));
    std::vector<std::string> rows;
    for (int k = Random(1, 3); k > 0; --k) rows.push_back(Row(i, a.seconds + Random(0, b.seconds - a.seconds - 1)));
    Insert(i, rows);
    runner_->Restate(proj_.nodes()[i].name, {a, b}, now_);
    ++tally_->restatements;
  }

  void ChangeDefinition() {
    std::vector<int> tables;
    for (size_t i = 0; i < proj_.nodes().size(); ++i) {
      const GenNode& n = proj_.nodes()[i];
      if (!n.is_source() && n.kind != GenNode::Kind::kLookup) tables.push_back(static_cast<int>(i));
    }
    GenNode& n = proj_.nodes()[static_cast<size_t>(tables[static_cast<size_t>(Random(0, tables.size() - 1))])];
    n.mult = n.mult % 3 + 1;
    proj_.WriteTable(n);
    runner_->Reload();
    ++tally_->changes;
  }

  std::optional<Timestamp> Complete(int i) {
    if (proj_.nodes()[i].query_freshness) return max_ts_[i];
    auto it = marks_.find(i);
    return it == marks_.end() ? std::nullopt : std::optional<Timestamp>(it->second);
  }

  std::string Describe(int i) const {
    const GenNode& n = proj_.nodes()[i];
    std::string inputs;
    for (int in : n.inputs) inputs += (inputs.empty() ? "" : ", ") + proj_.nodes()[in].name;
    return fmt::format("{} ({} {}, reads {})", n.name, static_cast<int>(n.kind), ScheduleName(n.schedule), inputs);
  }

  void Check() {
    ++tally_->steps;
    auto expected = proj_.ExpectedCompleteness(marks_, max_ts_, now_);
    std::map<std::string, std::optional<Timestamp>> actual;
    for (const auto& s : runner_->Status(now_)) actual[s.table] = s.complete_through;
    Warehouse& wh = runner_->warehouse();
    if (!pg_) {
      ASSERT_TRUE(wh.Execute(proj_.OracleSetupSql()).ok());
    }
    auto scalar = [&](const std::string& sql) -> std::string {
      auto rows = wh.Query(sql);
      EXPECT_TRUE(rows.ok()) << Where() << "\n" << sql << "\n" << (rows.ok() ? "" : rows.error().message);
      return rows.ok() && rows->size() ? rows->at(0, 0).value_or("NULL") : "ERROR";
    };
    for (size_t i = 0; i < proj_.nodes().size(); ++i) {
      const GenNode& n = proj_.nodes()[i];
      int id = static_cast<int>(i);
      auto show = [](const std::optional<Timestamp>& t) { return t ? FormatIso(*t) : std::string("-"); };
      // (b) as soon as the inputs allow, and no sooner.
      ASSERT_TRUE(actual.count(n.name)) << Where() << ": no status for " << n.name;
      EXPECT_EQ(show(actual[n.name]), show(expected[i])) << Where() << ": completeness of " << Describe(id);
      if (n.is_source()) continue;
      ++tally_->checks;
      // (a) the contents, for that completeness.
      bool windows = n.appends() || n.kind == GenNode::Kind::kMerge;
      if (!expected[i]) {
        if (windows) {
          auto cols = wh.Columns(n.name.substr(0, n.name.find('.')), n.name.substr(n.name.find('.') + 1));
          if (cols.ok() && *cols) {
            EXPECT_EQ(scalar("SELECT count(*) FROM " + n.name), "0") << Where() << Describe(id);
          }
        }
        continue;  // nothing is claimed yet
      }
      std::string diff = testing::DifferenceSql(proj_.ActualSql(id, expected[i]), proj_.ExpectedSql(id, expected));
      std::string d = scalar(diff);
      EXPECT_EQ(d, "0") << Where() << ": contents of " << Describe(id) << " complete through "
                                   << show(expected[i]) << "\n" << proj_.ExpectedSql(id, expected);
      if (d != "0" && std::getenv("DERIVED_DEBUG")) {
        auto dump = [&](const std::string& sql) {
          auto rows = wh.Query(sql);
          if (!rows.ok()) { std::printf("%s\n", rows.error().message.c_str()); return; }
          for (const auto& r : rows->rows) { for (const auto& v : r) std::printf("%s | ", v.value_or("NULL").c_str()); std::printf("\n"); }
        };
        std::printf("-- actual\n"); dump(proj_.ActualSql(id, expected[i]) + " ORDER BY ALL");
        std::printf("-- expected\n"); dump(proj_.ExpectedSql(id, expected) + " ORDER BY ALL");
        std::printf("-- log\n"); dump("SELECT table_name, operation, window_start, window_end, rows_inserted, rows_updated, status, run_id, details FROM _derived.log WHERE table_name IN ('" + n.name + "', '" + proj_.nodes()[n.inputs[0]].name + "') ORDER BY finished_at");
      }
    }
    CheckLog();
  }

  // (c) Each window of a version is applied once; only repairs go over it again.
  void CheckLog() {
    const SqlDialect& d = runner_->warehouse().dialect();
    auto rows = runner_->warehouse().Query(
        fmt::format("SELECT table_name, operation, run_id, {}, {}, status, coalesce(error, '') FROM _derived.log "
                    "ORDER BY finished_at, started_at",
                    d.IsoText("window_start"), d.IsoText("window_end")));
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    std::map<std::string, IntervalSet> applied;
    std::map<std::string, std::string> last_op;
    for (const auto& r : rows->rows) {
      std::string table = r[0].value_or(""), op = r[1].value_or(""), run = r[2].value_or("");
      EXPECT_EQ(r[5].value_or(""), "success") << Where() << ": " << table << " " << op << ": " << r[6].value_or("");
      if (!r[3] || !r[4]) continue;
      Window w{*ParseTimestamp(*r[3]), *ParseTimestamp(*r[4])};
      const GenNode* n = nullptr;
      for (const auto& g : proj_.nodes()) {
        if (g.name == table) n = &g;
      }
      if (!n || !(n->appends() || n->kind == GenNode::Kind::kMerge)) continue;
      std::string key = op + " " + run;
      if (op == "rebuild" && last_op[table] != key) applied[table] = IntervalSet();  // a new version
      last_op[table] = key;
      if (op == "create" || op == "append" || op == "merge") {
        EXPECT_FALSE(applied[table].Intersects(w))
            << Where() << ": " << table << " applied [" << *r[3] << ", " << *r[4] << ") twice";
      }
      applied[table].Add(w);
    }
  }

  testing::TempDir dir_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::unique_ptr<testing::PostgresDatabase> pg_;  // the warehouse, on PostgreSQL
  RandomProject proj_;
  Tally* tally_;
  std::unique_ptr<Runner> runner_;
  Timestamp now_;
  int step_ = 0, csv_version_ = 0;
  int64_t next_id_ = 1;
  std::map<int, Timestamp> landed_, marks_;
  std::map<int, std::optional<Timestamp>> max_ts_;
  std::map<int, std::set<int64_t>> used_;
};

int Seeds(int ci_default) {
  const char* soak = std::getenv("DERIVED_SOAK_SEEDS");
  return soak && std::atoi(soak) > 0 ? std::atoi(soak) : ci_default;
}

void RunSeeds(bool service, int seeds, uint64_t first, int steps, bool postgres = false) {
  // DERIVED_SEED=N replays one seed (as a failure names it), or starts the soak there.
  if (const char* one = std::getenv("DERIVED_SEED"); one && std::atoll(one) > 0) {
    first = static_cast<uint64_t>(std::atoll(one));
    if (!std::getenv("DERIVED_SOAK_SEEDS")) seeds = 1;
  }
  Tally tally;
  for (int s = 0; s < seeds && !::testing::Test::HasFailure(); ++s) {
    Driver d(first + static_cast<uint64_t>(s), service, postgres, &tally);
    for (int k = 0; k < steps && !::testing::Test::HasFailure(); ++k) d.Step();
    ++tally.seeds;
  }
  std::printf("differential readiness (%s%s): %d seeds, %d steps, %d table checks, %d restatements, %d changed "
              "definitions, %d replaced files\n",
              service ? "service" : "run --once", postgres ? ", PostgreSQL" : "", tally.seeds, tally.steps, tally.checks, tally.restatements,
              tally.changes, tally.replaced_files);
}

// On both engines; on PostgreSQL every project without its file source (DuckDB's alone),
// from seeds of its own.
class DifferentialReadiness : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  bool postgres() const { return GetParam() == WarehouseEngine::kPostgres; }
};

TEST_P(DifferentialReadiness, RunOnceAgreesWithTheOracleOnRandomProjects) {
  RunSeeds(false, Seeds(postgres() ? 2 : 4), postgres() ? 2001 : 1, 10, postgres());
}

TEST_P(DifferentialReadiness, TheServiceAgreesWithTheOracleOnRandomProjects) {
  RunSeeds(true, Seeds(postgres() ? 1 : 2), postgres() ? 3001 : 1001, 10, postgres());
}

INSTANTIATE_TEST_SUITE_P(BothEngines, DifferentialReadiness, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
