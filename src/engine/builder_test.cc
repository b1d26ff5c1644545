// The builder below the engine: a plan made by hand, carried out against a fake of the
// strategy writers (tests/fake_writer.h) on a real session, so each test sees exactly
// which writes the builder asks for, in which transactions, and what it records in the
// real metadata log and state.
#include "engine/builder.h"

#include <gtest/gtest.h>

#include "compile/compiler.h"
#include "engine_testing.h"
#include "fake_writer.h"
#include "testing.h"

namespace derived {
namespace {

const Timestamp kNow = *ParseTimestamp("2024-01-08");
Timestamp Day(int d) { return Add(*ParseTimestamp("2024-01-01"), Duration{d - 1, TimeUnit::kDay}); }

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("derived.yaml", "name: b\nwarehouse: {engine: duckdb, path: w.duckdb}\ndefaults: {start: 2024-01-01}\n");
    dir_.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                          "{name: user_id, type: BIGINT}, {name: v, type: BIGINT}]\n");
    dir_.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
time_column: day
columns: [{name: n, type: BIGINT}]
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS n FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
    dir_.Write("tables/core/users.yaml", R"(schedule: daily
strategy: merge
time_column: last_ts
merge: {keys: [user_id]}
sql: |
  SELECT user_id, max(ts) AS last_ts FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
    dir_.Write("tables/core/snap.yaml", "schedule: daily\nsql: SELECT count(*) AS n FROM raw.events\n");
    dir_.Write("tables/core/typed.yaml", R"(schedule: daily
strategy: append
time_column: day
columns: [{name: n, type: VARCHAR}, {name: missing}]
sql: SELECT date_trunc('day', ts) AS day, count(*) AS n FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
    auto wh = testing::OpenTestWarehouse(dir_.str() + "/w.duckdb", "");
    ASSERT_TRUE(wh.ok()) << wh.error().message;
    ASSERT_TRUE((*wh)->Execute("CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP, user_id BIGINT, v BIGINT)").ok());
    CompileOptions co;
    co.threads = 1;
    co.now = kNow;
    co.use_cache = false;
    co.type_check = false;  // core.typed would fail it: these tests are of the builder's own checks at run time
    auto compiled = Compile(dir_.str(), co);
    ASSERT_TRUE(compiled.ok());
    for (const auto& d : compiled->diags.all()) ASSERT_NE(d.severity, Severity::kError) << d.ToString();
    cp_ = std::make_unique<CompiledProject>(std::move(*compiled));
    wh_ = std::make_unique<testing::FakeWriterWarehouse>(std::move(*wh));
    meta_ = std::make_unique<MetadataStore>(wh_.get(), Provenance{});
    ASSERT_TRUE(meta_->EnsureSchema().ok());
    ctx_.wh = wh_.get();
    ctx_.meta = meta_.get();
    ctx_.cp = cp_.get();
    ctx_.run_id = "run1";
    ctx_.now = kNow;
  }

  testing::FakeWriter& writer() { return wh_->fake(); }

  BuildRequest Request(const std::string& table, Action action, std::vector<Batch> batches) {
    BuildRequest r;
    r.table = cp_->FindTable(table);
    EXPECT_NE(r.table, nullptr) << table;
    r.definition_hash = "h1";
    r.plan.action = action;
    r.plan.batches = std::move(batches);
    UpstreamStatus events;
    events.name = "raw.events";
    events.is_source = true;
    events.exists = true;
    events.complete_through = kNow;
    r.upstream = {events};
    return r;
  }

  // One batch of the days [from, to).
  static Batch Days(int from, int to, bool initial = false) {
    Batch b;
    b.write = b.read = Window{Day(from), Day(to)};
    b.windows = to - from;
    b.initial = initial;
    return b;
  }

  // The log as "operation status [start, end) inserted/updated/deleted", oldest first.
  std::vector<std::string> Log(const std::string& table) {
    auto rows = wh_->Query("SELECT operation || ' ' || status || coalesce(' ' || strftime(window_start, '%d') || '-' || "
                           "strftime(window_end, '%d'), '') || ' ' || rows_inserted || '/' || rows_updated || '/' || "
                           "rows_deleted FROM _derived.log WHERE table_name = '" +
                           table + "' ORDER BY started_at, window_start");
    EXPECT_TRUE(rows.ok());
    std::vector<std::string> out;
    for (size_t i = 0; rows.ok() && i < rows->size(); ++i) out.push_back(rows->at(i, 0).value_or("NULL"));
    return out;
  }

  std::optional<TableState> Stored(const std::string& table) {
    auto states = meta_->LoadStates();
    EXPECT_TRUE(states.ok());
    if (!states.ok() || !states->count(table)) return std::nullopt;
    return states->at(table);
  }

  testing::TempDir dir_;
  std::unique_ptr<CompiledProject> cp_;
  std::unique_ptr<testing::FakeWriterWarehouse> wh_;
  std::unique_ptr<MetadataStore> meta_;
  BuildContext ctx_;
};

using Lines = std::vector<std::string>;

TEST_F(BuilderTest, AppendWritesEachBatchInItsOwnTransactionAndCreatesTheTableOnce) {
  BuildResult r = Build(ctx_, Request("core.daily", Action::kCreate, {Days(1, 3, true), Days(3, 4), Days(4, 5)}));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(writer().calls, (Lines{"append table [2024-01-01, 2024-01-03) new", "append table [2024-01-03, 2024-01-04)",
                                  "append table [2024-01-04, 2024-01-05)"}));
  EXPECT_EQ(r.windows, 4);
  EXPECT_EQ(r.inserted, 30);
  EXPECT_EQ(Log("core.daily"), (Lines{"create success 01-03 10/0/0", "create success 03-04 10/0/0",
                                      "create success 04-05 10/0/0"}));
  auto st = Stored("core.daily");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->completed.ContiguousEnd(Day(1)), Day(5));
  EXPECT_EQ(st->data_version, 3);  // one per committed batch
  EXPECT_EQ(st->definition_hash, "h1");
  EXPECT_EQ(st->last_status, "success");
}

TEST_F(BuilderTest, AFailedBatchKeepsTheCommittedOnesAndIsLoggedAfterItsRollback) {
  writer().FailNext("append table [2024-01-02", Error("disk I/O error"));
  BuildResult r = Build(ctx_, Request("core.daily", Action::kCreate, {Days(1, 2), Days(2, 3), Days(3, 4)}));
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_EQ(r.error, "disk I/O error");
  // The third batch is never tried: the plan is made again from what committed.
  EXPECT_EQ(writer().calls, (Lines{"append table [2024-01-01, 2024-01-02) new", "append table [2024-01-02, 2024-01-03)"}));
  EXPECT_EQ(Log("core.daily"), (Lines{"create success 01-02 10/0/0", "create failed 02-03 0/0/0"}));
  auto st = Stored("core.daily");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->completed.ContiguousEnd(Day(1)), Day(2));
  EXPECT_EQ(st->last_status, "failed");
  EXPECT_EQ(st->consecutive_failures, 1);
  EXPECT_EQ(st->data_version, 1);
}

TEST_F(BuilderTest, TheWindowGuardsRefusalIsCountedAfterTheRollback) {
  writer().FailNext("append", WriteError(WriteError::Cause::kRowOutsideWindow, Error("guard")));
  BuildResult r = Build(ctx_, Request("core.daily", Action::kCreate, {Days(1, 2)}));
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_EQ(writer().calls, (Lines{"append table [2024-01-01, 2024-01-02) new", "rows outside [2024-01-01, 2024-01-02)"}));
  EXPECT_NE(r.error.find("tables/core/daily.yaml: the query returned 3 rows whose time_column 'day' is outside the "
                         "window [2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z) (from 2023-12-31 00:00:00 to 2024-02-01 "
                         "00:00:00)"),
            std::string::npos)
      << r.error;
  EXPECT_EQ(Stored("core.daily")->data_version, 0);  // only the failure is recorded
}

TEST_F(BuilderTest, NewWindowsAreNotDeletedFirstButRebuiltAndBackfilledOnesAre) {
  ASSERT_TRUE(Build(ctx_, Request("core.daily", Action::kCreate, {Days(1, 3)})).ok());
  writer().calls.clear();
  BuildRequest again = Request("core.daily", Action::kAppend, {Days(2, 4)});  // day 2 was built
  again.state = Stored("core.daily");
  ASSERT_TRUE(Build(ctx_, again).ok());
  BuildRequest backfill = Request("core.daily", Action::kAppend, {Days(3, 4)});
  backfill.state = Stored("core.daily");
  backfill.backfill = true;
  ASSERT_TRUE(Build(ctx_, backfill).ok());
  EXPECT_EQ(writer().calls, (Lines{"append table [2024-01-02, 2024-01-04) replacing",
                                  "append table [2024-01-03, 2024-01-04) replacing"}));
  EXPECT_EQ(Log("core.daily"), (Lines{"create success 01-03 10/0/0", "append success 02-04 10/0/0",
                                      "backfill success 03-04 10/0/0"}));
}

TEST_F(BuilderTest, ARebuildFillsStagingAndSwapsItInInOneTransaction) {
  ASSERT_TRUE(Build(ctx_, Request("core.users", Action::kCreate, {Days(1, 2)})).ok());
  TableState before = *Stored("core.users");
  writer().calls.clear();
  BuildRequest rebuild = Request("core.users", Action::kRebuild, {Days(1, 2, true), Days(2, 3)});
  rebuild.state = before;
  rebuild.definition_hash = "h2";
  rebuild.plan.reason = "definition changed";
  rebuild.own_views = {"mart.v"};
  writer().FailNext("swap in", Error("lock timeout"));
  BuildResult failed = Build(ctx_, rebuild);
  EXPECT_EQ(failed.status, RunStatus::kFailed);
  EXPECT_EQ(writer().calls, (Lines{"drop staging", "merge staging new", "merge staging", "swap in mart.v"}));
  // Nothing of the new version committed: the old one is still the table's state.
  TableState after_failure = *Stored("core.users");
  EXPECT_EQ(after_failure.definition_hash, "h1");
  EXPECT_EQ(after_failure.version, before.version);
  EXPECT_EQ(after_failure.data_version, before.data_version);

  writer().calls.clear();
  rebuild.state = after_failure;
  BuildResult r = Build(ctx_, rebuild);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(writer().calls, (Lines{"drop staging", "merge staging new", "merge staging", "swap in mart.v"}));
  TableState now = *Stored("core.users");
  EXPECT_EQ(now.definition_hash, "h2");
  EXPECT_EQ(now.version, before.version + 1);
  EXPECT_EQ(now.completed.ContiguousEnd(Day(1)), Day(3));
  EXPECT_EQ(r.deleted, 5);  // the old version's rows
  Lines log = Log("core.users");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[1], "rebuild failed 0/0/0");  // the swap belongs to no batch: no window
  EXPECT_EQ(log[2], "rebuild success 01-02 10/0/5");
  EXPECT_EQ(log[3], "rebuild success 02-03 10/0/0");
}

TEST_F(BuilderTest, ReplaceCountsTheNewRowsAndTheOldOnes) {
  BuildRequest req = Request("core.snap", Action::kReplace, {Days(7, 8)});
  req.plan.complete_through = Day(8);
  BuildResult r = Build(ctx_, req);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(writer().calls, (Lines{"drop staging", "create staging", "swap in"}));
  EXPECT_EQ(r.inserted, 7);
  EXPECT_EQ(r.deleted, 5);
  EXPECT_EQ(Log("core.snap"), (Lines{"replace success 07-08 7/0/5"}));
  EXPECT_EQ(Stored("core.snap")->complete_through, Day(8));
}

TEST_F(BuilderTest, DeclaredColumnsAreCheckedBeforeAnythingIsWritten) {
  BuildResult r = Build(ctx_, Request("core.typed", Action::kCreate, {Days(1, 2)}));
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_TRUE(writer().calls.empty());
  EXPECT_EQ(r.error,
            "tables/core/typed.yaml: column 'n' is declared VARCHAR but the query returns BIGINT; declared column "
            "'missing' is not returned by the query");
}

TEST_F(BuilderTest, AnExistingTableWithOtherColumnsIsNotWrittenInto) {
  writer().Exists({{"day", "TIMESTAMP"}, {"n", "BIGINT"}, {"extra", "BIGINT"}});
  BuildRequest req = Request("core.daily", Action::kAppend, {Days(1, 2)});
  BuildResult r = Build(ctx_, req);
  EXPECT_EQ(r.status, RunStatus::kFailed);
  EXPECT_TRUE(writer().calls.empty());
  EXPECT_EQ(r.error, "tables/core/daily.yaml: the query returns columns (day, n) but the table has (day, extra, n); "
                     "change the definition so that it is rebuilt");
}

TEST_F(BuilderTest, ANullMergeKeyIsCountedAfterTheRollback) {
  writer().FailNext("merge", WriteError(WriteError::Cause::kNullMergeKey, Error("guard")));
  BuildResult r = Build(ctx_, Request("core.users", Action::kCreate, {Days(1, 2)}));
  EXPECT_EQ(r.error, "tables/core/users.yaml: the query returned 2 row(s) with a NULL merge key (user_id)");
  EXPECT_EQ(writer().calls, (Lines{"merge table new", "rows with null key"}));
}

TEST_F(BuilderTest, CancellingStopsAfterTheBatchInProgress) {
  std::atomic<bool> cancel{false};
  ctx_.cancel = &cancel;
  ctx_.on_progress = [&](const BuildProgress& p) {
    if (p.windows_done == 1) cancel = true;
  };
  BuildResult r = Build(ctx_, Request("core.daily", Action::kCreate, {Days(1, 2), Days(2, 3), Days(3, 4)}));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.windows, 1);
  EXPECT_EQ(writer().calls, (Lines{"append table [2024-01-01, 2024-01-02) new"}));
  EXPECT_EQ(Stored("core.daily")->completed.ContiguousEnd(Day(1)), Day(2));
}

}  // namespace
}  // namespace derived
