// The builder and the metadata store under a failure at every statement they send, in
// process (tests/faulty_warehouse.h), on both engines: whatever fails, the tables hold
// exactly what their state claims, and a run without the fault finishes the work with
// every window applied once and every table equal to plain SQL over the raw data.
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "compile/compiler.h"
#include "engine/engine.h"
#include "engine_testing.h"
#include "faulty_warehouse.h"
#include "testing.h"

namespace derived {
namespace {

const Timestamp kNow = *ParseTimestamp("2024-01-08");

void WriteProject(const testing::WarehouseProject& dir) {
  dir.Configure("defaults: {start: 2024-01-01}\n");
  dir.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                       "{name: user_id, type: BIGINT}, {name: v, type: BIGINT}]\n");
  dir.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
batch: 1
time_column: day
tests:
  - not_null: [day]
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS n, sum(v) AS v FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir.Write("tables/core/users.yaml", R"(schedule: daily
strategy: merge
batch: 1
time_column: last_ts
merge: {keys: [user_id], rules: {last_ts: max, v: sum}}
sql: |
  SELECT user_id, max(ts) AS last_ts, sum(v) AS v FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir.Write("tables/mart/totals.yaml", "schedule: daily\nsql: SELECT sum(n) AS n, sum(v) AS v FROM core.daily\n");
}

std::unique_ptr<Warehouse> Open(const testing::WarehouseProject& dir) {
  auto wh = dir.Open();
  if (!wh.ok()) throw std::runtime_error(wh.error().message);
  return std::move(*wh);
}

std::string Scalar(Warehouse& wh, const std::string& sql) {
  auto rows = wh.Query(sql);
  EXPECT_TRUE(rows.ok()) << sql << ": " << (rows.ok() ? "" : rows.error().message);
  return rows.ok() && rows->size() ? rows->at(0, 0).value_or("NULL") : "ERROR";
}

// Empties the project's warehouse: a DuckDB file is removed; a PostgreSQL database (a new
// one for every run would cost more than the runs) loses every schema the test makes.
// Returns a session of it.
std::unique_ptr<Warehouse> Empty(const testing::WarehouseProject& dir) {
  if (!dir.postgres()) {
    std::filesystem::remove(dir.dir().path() / "warehouse.duckdb");
    std::filesystem::remove(dir.dir().path() / "warehouse.duckdb.wal");
  }
  auto wh = Open(dir);
  if (dir.postgres()) {
    EXPECT_TRUE(wh->Execute("DROP SCHEMA IF EXISTS raw, core, mart, _derived CASCADE").ok());
  }
  // (Opening a PostgreSQL warehouse makes the schema _derived, for its guard function.)
  EXPECT_EQ(Scalar(*wh,
                   "SELECT (SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('raw', "
                   "'core', 'mart')) + (SELECT count(*) FROM information_schema.tables WHERE table_schema "
                   "= '_derived')"),
            "0");
  return wh;
}

// The project compiled once: every fixture's warehouse is the same when it is compiled.
struct Compiled {
  std::shared_ptr<CompiledProject> cp;
  std::shared_ptr<const ProjectAnalysis> an;
};

// The project's warehouse emptied, then a week of events, marked complete.
struct Fixture {
  const testing::WarehouseProject& dir;
  std::shared_ptr<const ProjectAnalysis> an;

  Fixture(const testing::WarehouseProject& project, Compiled& compiled) : dir(project) {
    auto wh = Empty(dir);
    EXPECT_TRUE(wh->Execute("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * "
                            "INTERVAL '1 hour' AS ts, CAST(i % 5 AS BIGINT) AS user_id, CAST(i AS BIGINT) AS v FROM "
                            "generate_series(0, 24 * 7 - 1) t(i)")
                    .ok());
    if (!compiled.an) {
      CompileOptions co;
      co.threads = 1;
      co.now = kNow;
      co.use_cache = false;
      auto cp = Compile(dir.dir().str(), co);
      EXPECT_TRUE(cp.ok() && !cp->diags.has_errors());
      compiled.cp = std::make_shared<CompiledProject>(std::move(*cp));
      compiled.an = AnalyzeProject(*compiled.cp);
    }
    an = compiled.an;
    auto engine = Engine::Open(an, std::move(wh), kNow);
    EXPECT_TRUE(engine.ok());
    EXPECT_TRUE((*engine)->MarkSource("raw.events", kNow).ok());
  }

  // A run on a session that fails at statement `fail_at` (0: never); the statements it sent.
  int Run(int fail_at, bool* failed = nullptr) {
    auto faulty = std::make_unique<testing::FaultyWarehouse>(Open(dir), fail_at);
    testing::FaultyWarehouse* f = faulty.get();
    auto engine = Engine::Open(an, std::move(faulty), kNow);
    if (!engine.ok()) {  // the fault hit opening (the metadata schema, the state)
      if (failed) *failed = true;
      return fail_at;
    }
    if (auto st = (*engine)->LoadSources(); !st.ok()) {
      if (failed) *failed = true;
      return f->statements();
    }
    auto report = (*engine)->RunOnce("", nullptr);
    if (failed) *failed = f->failed();
    int n = f->statements();
    if (!f->failed()) {
      EXPECT_TRUE(report.ok() && report->failures() == 0) << (report.ok() ? "" : report.error().message);
    }
    return n;
  }
};

class FaultInjection : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(FaultInjection, AFailureAtAnyStatementLeavesWhatTheStateClaimsAndTheNextRunFinishes) {
  testing::WarehouseProject p(GetParam());
  WriteProject(p);
  Compiled compiled;
  int total = 0;
  {
    Fixture clean(p, compiled);
    total = clean.Run(0);
  }
  ASSERT_GT(total, 20);
  int injected = 0;
  for (int k = 1; k <= total; ++k) {
    Fixture s(p, compiled);
    bool failed = false;
    s.Run(k, &failed);
    if (!failed) continue;
    ++injected;
    auto wh = Open(s.dir);
    // Nothing claimed that is not there: the daily table holds a row for each day of its
    // completed windows, and nothing else.
    MetadataStore meta(wh.get(), Provenance{});
    auto states = meta.LoadStates();
    ASSERT_TRUE(states.ok()) << "fault at " << k << ": " << states.error().message;
    int64_t claimed_days = 0;
    if (auto it = states->find("core.daily"); it != states->end()) {
      for (const Window& w : it->second.completed.ranges()) claimed_days += (w.end.seconds - w.start.seconds) / 86400;
    }
    std::string rows = wh->Columns("core", "daily").ok() && *wh->Columns("core", "daily")
                           ? Scalar(*wh, "SELECT count(*) FROM core.daily")
                           : "0";
    EXPECT_EQ(rows, std::to_string(claimed_days)) << "fault at statement " << k;
    wh.reset();
    // A run without the fault finishes: every table equals plain SQL, each window once.
    s.Run(0);
    wh = Open(s.dir);
    EXPECT_EQ(Scalar(*wh, testing::DifferenceSql("SELECT * FROM core.daily",
                                                 "SELECT date_trunc('day', ts), count(*), sum(v) FROM raw.events "
                                                 "GROUP BY 1")),
              "0")
        << "fault at statement " << k;
    EXPECT_EQ(Scalar(*wh, testing::DifferenceSql("SELECT * FROM core.users",
                                                 "SELECT user_id, max(ts), sum(v) FROM raw.events GROUP BY 1")),
              "0")
        << "fault at statement " << k;
    EXPECT_EQ(Scalar(*wh, "SELECT n || '/' || v FROM mart.totals"),
              Scalar(*wh, "SELECT count(*) || '/' || sum(v) FROM raw.events"))
        << "fault at statement " << k;
    EXPECT_EQ(Scalar(*wh, "SELECT count(*) FROM (SELECT table_name, window_start FROM _derived.log WHERE status = "
                          "'success' AND operation IN ('create', 'append', 'merge') GROUP BY 1, 2 HAVING count(*) > 1) "
                          "AS twice"),
              "0")
        << "fault at statement " << k;
  }
  std::printf("fault injection (%s): %d statements in a clean run, a fault injected at each of %d\n",
              GetParam() == WarehouseEngine::kPostgres ? "PostgreSQL" : "DuckDB", total, injected);
  EXPECT_GT(injected, total / 2);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, FaultInjection, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
