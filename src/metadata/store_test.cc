// The metadata store on both engines, below the engine: what it saves is what it loads,
// a state made from an older one never overwrites a newer (on a shared warehouse), and
// a failure at any statement of a recorded mutation leaves its log row and its state
// both written or both not (tests/faulty_warehouse.h).
#include "metadata/store.h"

#include <gtest/gtest.h>

#include "engine_testing.h"
#include "faulty_warehouse.h"
#include "testing.h"

namespace derived {
namespace {

const Timestamp kNow = *ParseTimestamp("2024-01-08");

class MetadataStoreOn : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  void SetUp() override {
    if (GetParam() == WarehouseEngine::kPostgres) {
      pg_ = std::make_unique<testing::PostgresDatabase>();
      ASSERT_TRUE(pg_->ok());
    }
    wh_ = Open();
    meta_ = std::make_unique<MetadataStore>(wh_.get(), Provenance{"abc123", true, "9.9"});
    ASSERT_TRUE(meta_->EnsureSchema().ok());
  }

  std::unique_ptr<Warehouse> Open() {
    auto wh = testing::OpenTestWarehouse(dir_.str() + "/w.duckdb", pg_ ? pg_->dsn() : "");
    EXPECT_TRUE(wh.ok()) << wh.error().message;
    return wh.ok() ? std::move(*wh) : nullptr;
  }
  // Another session on the same warehouse (another process, on a shared one).
  std::unique_ptr<Warehouse> Session() {
    auto wh = wh_->Connect();
    EXPECT_TRUE(wh.ok()) << wh.error().message;
    return wh.ok() ? std::move(*wh) : nullptr;
  }

  bool shared() const { return GetParam() == WarehouseEngine::kPostgres; }

  static TableState State(int64_t data_version) {
    TableState s;
    s.table = "core.t";
    s.definition_hash = "h";
    s.version = 2;
    s.data_version = data_version;
    s.completed.Add({*ParseTimestamp("2024-01-01"), *ParseTimestamp("2024-01-03")});
    s.completed.Add({*ParseTimestamp("2024-01-05"), *ParseTimestamp("2024-01-06")});
    s.complete_through = *ParseTimestamp("2024-01-03");
    s.last_status = "success";
    s.last_run_id = "r" + std::to_string(data_version);
    s.inputs = {{"raw.e", {{"complete_through", "2024-01-03T00:00:00Z"}}}};
    s.config = {{"strategy", "append"}, {"metadata_hash", "m"}};
    return s;
  }

  static LogEntry Entry(const std::string& run, const std::string& op) {
    LogEntry e = LogEntry::Begin(run, "core.t", "h", op, kNow);
    e.window = Window{*ParseTimestamp("2024-01-02"), *ParseTimestamp("2024-01-03")};
    e.rows_inserted = 4;
    e.inputs = {{"raw.e", {{"complete_through", "2024-01-03T00:00:00Z"}}}};
    return e;
  }

  std::string Scalar(Warehouse& wh, const std::string& sql) {
    auto rows = wh.Query(sql);
    EXPECT_TRUE(rows.ok()) << sql;
    return rows.ok() && rows->size() ? rows->at(0, 0).value_or("NULL") : "ERROR";
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PostgresDatabase> pg_;
  std::unique_ptr<Warehouse> wh_;
  std::unique_ptr<MetadataStore> meta_;
};

TEST_P(MetadataStoreOn, WhatIsSavedIsWhatIsLoaded) {
  TableState s = State(3);
  ASSERT_TRUE(InTransaction(*wh_, [&] { return meta_->SaveState(s, TableState{}); }).ok());
  auto loaded = meta_->LoadStates();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->count("core.t"), 1u);
  const TableState& l = loaded->at("core.t");
  EXPECT_TRUE(l.stored);
  EXPECT_EQ(l.definition_hash, "h");
  EXPECT_EQ(l.version, 2);
  EXPECT_EQ(l.data_version, 3);
  EXPECT_EQ(l.completed.ranges(), s.completed.ranges());
  EXPECT_EQ(l.complete_through, s.complete_through);
  EXPECT_EQ(l.last_run_id, "r3");
  EXPECT_EQ(l.inputs, s.inputs);
  EXPECT_EQ(l.config, s.config);
  std::vector<std::string> only = {"core.other"};
  EXPECT_TRUE(meta_->LoadStates(&only)->empty());

  // The log row, with its provenance, as lineage reads it.
  ASSERT_TRUE(InTransaction(*wh_, [&] { return meta_->AppendLog(Entry("run1", "append")); }).ok());
  auto runs = meta_->Runs("core.t", Window{*ParseTimestamp("2024-01-02T12:00:00Z"), *ParseTimestamp("2024-01-04")}, "");
  ASSERT_TRUE(runs.ok()) << runs.error().message;
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->at(0).run_id, "run1");
  EXPECT_EQ(runs->at(0).inputs, Entry("run1", "append").inputs);
  EXPECT_TRUE(meta_->Runs("core.t", Window{*ParseTimestamp("2024-01-04"), *ParseTimestamp("2024-01-05")}, "")->empty());
  EXPECT_EQ(Scalar(*wh_, "SELECT git_commit || ' ' || CAST(git_dirty AS VARCHAR) || ' ' || derived_version || ' ' || "
                         "rows_inserted FROM _derived.log"),
            "abc123 true 9.9 4");
  EXPECT_EQ(*meta_->TableNames(MetadataStore::NameSource::kState), std::vector<std::string>{"core.t"});

  // Marks and file fingerprints.
  ASSERT_TRUE(meta_->SetMark("raw.e", *ParseTimestamp("2024-01-04"), kNow).ok());
  ASSERT_TRUE(meta_->SetMark("raw.e", *ParseTimestamp("2024-01-05"), kNow).ok());
  EXPECT_EQ(meta_->LoadMarks()->at("raw.e"), *ParseTimestamp("2024-01-05"));
  FileFingerprint f;
  f.path = "/data/a.csv";
  f.size = 10;
  f.mtime_ns = 5;
  f.seen_ns = 6;
  f.hash = "x";
  f.days = {{86400, "d1"}};
  ASSERT_TRUE(meta_->SaveFiles("raw.e", {f}, kNow).ok());
  auto files = meta_->LoadFiles("raw.e");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->at(0).path, f.path);
  EXPECT_EQ(files->at(0).days, f.days);
  EXPECT_EQ(files->at(0).hash, "x");
}

TEST_P(MetadataStoreOn, AStateMadeFromAnOlderOneNeverOverwritesANewer) {
  TableState first = State(1);
  ASSERT_TRUE(InTransaction(*wh_, [&] { return meta_->SaveState(first, TableState{}); }).ok());
  first.stored = true;
  // Another process (its own session) commits data version 2 from it.
  auto other_wh = Session();
  MetadataStore other(other_wh.get(), Provenance{});
  TableState second = State(2);
  ASSERT_TRUE(InTransaction(*other_wh, [&] { return other.SaveState(second, first); }).ok());
  // This one, still planning from version 1, tries to commit its own version 2.
  TableState mine = State(2);
  mine.last_run_id = "mine";
  Status st = InTransaction(*wh_, [&] { return meta_->SaveState(mine, first); });
  if (!shared()) {
    // One writer: there is no other process to race with; the store simply writes.
    EXPECT_TRUE(st.ok());
    return;
  }
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(MetadataStore::IsSuperseded(st.error())) << st.error().message;
  EXPECT_EQ(meta_->LoadStates()->at("core.t").last_run_id, "r2");
  // Claim says so before anything is written, with the newer state.
  ASSERT_TRUE(wh_->Begin().ok());
  auto newer = meta_->Claim("core.t", first);
  ASSERT_TRUE(newer.ok());
  ASSERT_TRUE(newer->has_value());
  EXPECT_EQ((*newer)->data_version, 2);
  ASSERT_TRUE(wh_->Rollback().ok());
  // A failure recorded from the old state keeps the newer one, and logs the attempt.
  TableState failing = first;
  LogEntry e = Entry("run3", "append");
  e.status = RunStatus::kFailed;
  e.error = "boom";
  ASSERT_TRUE(meta_->RecordFailure(e, &failing).ok());
  EXPECT_EQ(failing.data_version, 2);
  EXPECT_EQ(meta_->LoadStates()->at("core.t").last_status, "success");
  EXPECT_EQ(Scalar(*wh_, "SELECT count(*) FROM _derived.log WHERE status = 'failed' AND error = 'boom'"), "1");
}

TEST_P(MetadataStoreOn, AFailedAttemptCountsItsFailuresAndKeepsTheData) {
  TableState s = State(1);
  ASSERT_TRUE(InTransaction(*wh_, [&] { return meta_->SaveState(s, TableState{}); }).ok());
  s.stored = true;
  for (int i = 1; i <= 2; ++i) {
    LogEntry e = Entry("run" + std::to_string(i), "append");
    e.status = RunStatus::kTestFailed;
    e.error = "tests failed";
    ASSERT_TRUE(meta_->RecordFailure(e, &s).ok());
  }
  TableState l = meta_->LoadStates()->at("core.t");
  EXPECT_EQ(l.consecutive_failures, 2);
  EXPECT_EQ(l.last_status, "test_failed");
  EXPECT_EQ(l.last_error, "tests failed");
  EXPECT_EQ(l.data_version, 1);
  EXPECT_EQ(l.completed.ranges(), State(1).completed.ranges());
}

// Record (a log row and the state change it records) at every statement it sends: both
// or neither, never one of the two.
TEST_P(MetadataStoreOn, AFaultAtAnyStatementOfARecordLeavesBothOrNeither) {
  int total = 0;
  for (int k = 1; k == 1 || k <= total; ++k) {
    testing::FaultyWarehouse faulty(Session(), k);
    MetadataStore meta(&faulty, Provenance{});
    TableState next = State(10 + k);
    Status st = InTransaction(faulty, [&] { return meta.Record(Entry("f" + std::to_string(k), "append"), next, TableState{}); });
    if (k == 1) {
      testing::FaultyWarehouse counting(Session(), 0);
      MetadataStore m(&counting, Provenance{});
      TableState probe = State(1);
      probe.table = "core.probe";
      LogEntry pe = Entry("probe", "append");
      pe.table = "core.probe";
      ASSERT_TRUE(InTransaction(counting, [&] { return m.Record(pe, probe, TableState{}); }).ok());
      total = counting.statements();
      ASSERT_GE(total, 4);  // begin, the log row, the state, commit
      EXPECT_EQ(Scalar(*wh_, "SELECT count(*) FROM _derived.log WHERE run_id = 'probe'"), "1");
      EXPECT_EQ(Scalar(*wh_, "SELECT count(*) FROM _derived.state WHERE table_name = 'core.probe'"), "1");
    }
    EXPECT_TRUE(faulty.failed()) << "fault at " << k;  // every statement of it is a place to fail
    EXPECT_FALSE(st.ok()) << "fault at " << k;
    std::string logged =
        Scalar(*wh_, "SELECT count(*) FROM _derived.log WHERE run_id = 'f" + std::to_string(k) + "'");
    std::string state = Scalar(*wh_, "SELECT count(*) FROM _derived.state WHERE table_name = 'core.t' AND "
                                     "data_version = " + std::to_string(10 + k));
    EXPECT_EQ(logged, state) << "fault at statement " << k << " of " << total;
    EXPECT_EQ(logged, "0") << "fault at statement " << k;
  }
}

// What `derived deploy k8s` sizes its processes from: recent run time per table.
TEST_P(MetadataStoreOn, RunSecondsSumsEachTablesRecentRuns) {
  double now = WallSeconds();
  auto logged = [&](const std::string& table, double started_ago, double seconds) {
    LogEntry e = Entry("r-" + table + std::to_string(started_ago), "append");
    e.table = table;
    e.started_at = now - started_ago;
    e.finished_at = e.started_at + seconds;
    ASSERT_TRUE(meta_->AppendLog(e).ok());
  };
  logged("core.t", 100, 1.5);
  logged("core.t", 50, 2.25);
  logged("core.u", 10 * 86400, 30);  // finished ten days ago
  auto seconds = meta_->RunSeconds(Timestamp{static_cast<int64_t>(now) - 7 * 86400});
  ASSERT_TRUE(seconds.ok()) << seconds.error().message;
  ASSERT_EQ(seconds->size(), 1u);
  EXPECT_NEAR(seconds->at("core.t"), 3.75, 0.01);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, MetadataStoreOn, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
