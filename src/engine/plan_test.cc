#include "engine/plan.h"

#include <gtest/gtest.h>

namespace derived {
namespace {

const std::string kS = "TIMESTAMP '1901-02-03 04:05:06'";
const std::string kE = "TIMESTAMP '1901-02-04 04:05:06'";

TEST(UsesWindowAsValue, FiltersAreNotValues) {
  EXPECT_FALSE(UsesWindowAsValue("SELECT * FROM t WHERE ts >= " + kS + " AND ts < " + kE, kS, kE));
  EXPECT_FALSE(UsesWindowAsValue("SELECT * FROM t WHERE ts BETWEEN " + kS + " AND " + kE, kS, kE));
  EXPECT_FALSE(UsesWindowAsValue("SELECT * FROM t WHERE " + kS + " <= ts", kS, kE));
  EXPECT_FALSE(UsesWindowAsValue("SELECT 1 FROM t", kS, kE));
}

TEST(UsesWindowAsValue, OutputsAreValues) {
  EXPECT_TRUE(UsesWindowAsValue("SELECT " + kS + " AS day, count(*) FROM t", kS, kE));
  EXPECT_TRUE(UsesWindowAsValue("SELECT CAST(" + kS + " AS DATE) AS d FROM t WHERE ts >= " + kS, kS, kE));
  EXPECT_TRUE(UsesWindowAsValue("SELECT date_diff('day', x, " + kE + ") FROM t", kS, kE));
}

TableDef Daily() {
  TableDef d;
  d.dataset = "core";
  d.name = "t";
  d.schedule = Schedule::kDaily;
  d.window = PeriodOf(Schedule::kDaily);
  d.strategy = Strategy::kAppend;
  d.time_column = "day";
  d.start = *ParseTimestamp("2024-01-01");
  return d;
}

UpstreamStatus Source(const std::string& name, const std::string& through) {
  UpstreamStatus u;
  u.name = name;
  u.is_source = true;
  u.exists = true;
  u.complete_through = *ParseTimestamp(through);
  return u;
}

TEST(PlanTable, NewAppendTableIsCreatedInBatchesUpToTheReadyWatermark) {
  TableDef d = Daily();
  d.batch = 3;
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.upstream = {Source("raw.a", "2024-01-08T05:00:00Z"), Source("raw.b", "2024-01-09")};
  in.now = *ParseTimestamp("2024-02-01");
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kCreate);
  ASSERT_EQ(p.batches.size(), 3u);  // 7 days: 3 + 3 + 1
  EXPECT_EQ(FormatIso(p.batches[0].write.start), "2024-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso(p.batches[2].write.end), "2024-01-08T00:00:00Z");
  EXPECT_EQ(p.batches[2].windows, 1);
  EXPECT_TRUE(p.batches[0].initial);
}

TEST(PlanTable, WaitsNamingTheUpstreamAndNeverBuildsAheadOfNow) {
  TableDef d = Daily();
  TableState s;
  s.definition_hash = "h";
  s.data_version = 1;
  s.completed.Add({*ParseTimestamp("2024-01-01"), *ParseTimestamp("2024-01-05")});
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.state = &s;
  in.upstream = {Source("raw.a", "2024-01-05T23:00:00Z")};
  in.now = *ParseTimestamp("2024-02-01");
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_EQ(p.waiting_on, std::vector<std::string>{"raw.a"});
  EXPECT_EQ(p.reason, "waits for raw.a (complete through 2024-01-05T23:00:00Z; needs 2024-01-06T00:00:00Z)");

  in.upstream = {Source("raw.a", "2024-03-01")};
  in.now = *ParseTimestamp("2024-01-07T12:00:00Z");
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kAppend);
  ASSERT_EQ(p.batches.size(), 1u);
  EXPECT_EQ(FormatIso(p.batches[0].write.end), "2024-01-07T00:00:00Z");
  EXPECT_FALSE(p.batches[0].initial);

  in.definition_hash = "changed";
  EXPECT_EQ(PlanTable(in).action, Action::kRebuild);
}

Timestamp T(const char* text) { return *ParseTimestamp(text); }

UpstreamStatus Table(const std::string& name, Strategy strategy, std::optional<Timestamp> through) {
  UpstreamStatus u;
  u.name = name;
  u.strategy = strategy;
  u.exists = true;
  u.complete_through = through;
  u.data_version = 1;
  u.version = 1;
  u.definition_hash = "up";
  return u;
}

TEST(PlanTable, LookupUpstreamsOnlyNeedToExist) {
  TableDef d = Daily();
  d.schedule = Schedule::kHourly;
  d.window = PeriodOf(Schedule::kHourly);
  UpstreamStatus lookup = Table("core.lookup", Strategy::kReplace, T("2023-12-01"));  // a monthly lookup
  lookup.lookup = true;
  lookup.exists = false;
  PlanInput in;
  in.def = &d;
  in.upstream = {Source("raw.a", "2024-01-01T03:00:00Z"), lookup};
  in.now = T("2024-02-01");
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_EQ(p.waiting_on, std::vector<std::string>{"core.lookup"});
  EXPECT_EQ(p.reason, "waits for core.lookup to be built");
  in.upstream[1].exists = true;
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kCreate);
  EXPECT_EQ(FormatIso(p.batches.back().write.end), "2024-01-01T03:00:00Z");
}

// The jaffle_shop fault: a replace staging table complete through the 10th must hold back
// the window of the 10th, even when the clock has passed it.
TEST(PlanTable, ReplaceAndViewUpstreamsGateByTheirCompleteness) {
  TableDef d = Daily();
  TableState s;
  s.definition_hash = "h";
  s.data_version = 1;
  s.completed.Add({T("2024-01-01"), T("2024-01-10")});
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.state = &s;
  in.now = T("2024-01-11");
  for (Strategy st : {Strategy::kReplace, Strategy::kView}) {
    in.upstream = {Table("staging.stg", st, T("2024-01-10"))};
    Plan p = PlanTable(in);
    EXPECT_EQ(p.action, Action::kWait) << StrategyName(st);
    EXPECT_EQ(p.reason, "waits for staging.stg (complete through 2024-01-10T00:00:00Z; needs 2024-01-11T00:00:00Z)");
    in.upstream[0].complete_through = T("2024-01-11");
    p = PlanTable(in);
    EXPECT_EQ(p.action, Action::kAppend);
    EXPECT_EQ(FormatIso(p.batches.back().write.end), "2024-01-11T00:00:00Z");
    in.upstream[0].complete_through.reset();  // built, but complete for nothing yet
    EXPECT_EQ(PlanTable(in).action, Action::kWait);
  }
}

TableDef DailyReplace() {
  TableDef d = Daily();
  d.strategy = Strategy::kReplace;
  d.time_column.clear();
  return d;
}

TEST(PlanReplace, IsBuiltAsSoonAsItsInputsExistAndNeverClaimsMoreThanThey) {
  TableDef d = DailyReplace();
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.now = T("2024-01-11T05:00:00Z");
  UpstreamStatus src = Source("raw.orders", "2024-01-01");
  src.complete_through.reset();  // not marked yet
  in.upstream = {src};
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kReplace);
  EXPECT_EQ(p.reason, "new table");
  EXPECT_FALSE(p.complete_through);
  // Rendered for the current period while nothing is complete.
  EXPECT_EQ(FormatIso(p.batches[0].read.end), "2024-01-11T00:00:00Z");

  // Complete through the inputs, floored to its own schedule, and never past now.
  in.upstream[0].complete_through = T("2024-01-09T07:00:00Z");
  EXPECT_EQ(FormatIso(*PlanTable(in).complete_through), "2024-01-09T00:00:00Z");
  in.upstream[0].complete_through = T("2024-03-01");
  EXPECT_EQ(FormatIso(*PlanTable(in).complete_through), "2024-01-11T00:00:00Z");
  in.upstream[0].complete_through = kEndOfTime;  // a static source
  EXPECT_EQ(FormatIso(*PlanTable(in).complete_through), "2024-01-11T00:00:00Z");
  // A replace input gates like any other: the minimum wins.
  in.upstream = {Source("raw.a", "2024-01-10"), Table("staging.b", Strategy::kReplace, T("2024-01-08"))};
  EXPECT_EQ(FormatIso(*PlanTable(in).complete_through), "2024-01-08T00:00:00Z");
  EXPECT_EQ(FormatIso(PlanTable(in).batches[0].read.end), "2024-01-08T00:00:00Z");

  in.upstream[1].exists = false;
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_EQ(p.reason, "waits for staging.b to be built");
}

TEST(PlanReplace, RebuildsWhenItsCompletenessWouldAdvanceEvenWhenInputsTrailTheClock) {
  TableDef d = DailyReplace();
  TableState s;
  s.definition_hash = "h";
  s.data_version = 3;
  s.complete_through = T("2024-01-08");
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.state = &s;
  in.now = T("2024-01-20T05:00:00Z");  // the source is always days late
  in.upstream = {Source("raw.a", "2024-01-08T22:00:00Z")};
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_EQ(p.waiting_on, std::vector<std::string>{"raw.a"});
  EXPECT_EQ(p.reason,
            "up to date: complete through 2024-01-08T00:00:00Z; the next rebuild waits for raw.a (complete through "
            "2024-01-08T22:00:00Z; needs 2024-01-09T00:00:00Z)");
  in.upstream[0].complete_through = T("2024-01-09T01:00:00Z");
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kReplace);
  EXPECT_EQ(p.reason, "inputs complete through 2024-01-09T00:00:00Z");
  EXPECT_EQ(FormatIso(*p.complete_through), "2024-01-09T00:00:00Z");

  // Bounded by the clock only: waits for the next period.
  s.complete_through = T("2024-01-20");
  in.upstream[0].complete_through = kEndOfTime;
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_TRUE(p.waiting_on.empty());
  EXPECT_EQ(p.reason,
            "up to date: complete through 2024-01-20T00:00:00Z; the next period ends 2024-01-21T00:00:00Z, after now");

  // New data in a replace input (its data version) is no rewrite; a new definition of
  // it, or a new version (it was rebuilt from a rewritten input), is.
  s.inputs["staging.b"] = {{"definition_hash", "up"}, {"version", 1}, {"data_version", 1}};
  in.upstream = {Table("staging.b", Strategy::kReplace, T("2024-01-20"))};
  in.upstream[0].data_version = 7;
  EXPECT_EQ(PlanTable(in).action, Action::kWait);
  in.upstream[0].version = 2;
  EXPECT_EQ(PlanTable(in).reason, "upstream staging.b was rebuilt");
  in.upstream[0].version = 1;
  s.inputs["staging.b"]["definition_hash"] = "old";
  EXPECT_EQ(PlanTable(in).reason, "upstream staging.b was rebuilt");
}

// The fault the differential test found: a replace table rebuilt because its own input
// was rewritten rewrites what its readers read, so its version moves on; advancing with
// new data does not.
TEST(PlanReplace, ARebuildFromARewrittenInputIsARewriteForItsReaders) {
  TableDef d = DailyReplace();
  TableState s;
  s.definition_hash = "h";
  s.data_version = 3;
  s.version = 2;
  s.complete_through = T("2024-01-08");
  s.inputs["stg.a"] = {{"definition_hash", "old"}, {"version", 1}};
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.state = &s;
  in.now = T("2024-01-20");
  in.upstream = {Table("stg.a", Strategy::kView, T("2024-01-09"))};
  Plan p = PlanTable(in);
  EXPECT_EQ(p.reason, "upstream stg.a was rebuilt");
  EXPECT_TRUE(p.rewrites);
  EXPECT_EQ(StateAfter(d, s, p, {}, "h", nlohmann::json::object()).version, 3);
  s.inputs["stg.a"]["definition_hash"] = "up";
  p = PlanTable(in);
  EXPECT_EQ(p.reason, "inputs complete through 2024-01-09T00:00:00Z");
  EXPECT_FALSE(p.rewrites);
  EXPECT_EQ(StateAfter(d, s, p, {}, "h", nlohmann::json::object()).version, 2);
}

TEST(PlanView, CreatesRecreatesAndTestsAsInputsAdvance) {
  TableDef d = DailyReplace();
  d.strategy = Strategy::kView;
  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.now = T("2024-01-20");
  in.upstream = {Source("raw.a", "2024-01-08T22:00:00Z")};
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kCreate);
  EXPECT_TRUE(p.batches.empty());

  TableState s;
  s.definition_hash = "h";
  s.data_version = 1;
  in.state = &s;
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);  // no tests: nothing to do as inputs advance
  EXPECT_EQ(p.reason, "up to date: a view, complete through 2024-01-08T22:00:00Z as its inputs");
  // Live: exactly its input's completeness, never floored, never capped at now.
  EXPECT_EQ(FormatIso(*ViewCompleteThrough(d, &s, in.upstream)), "2024-01-08T22:00:00Z");

  d.tests.push_back(TestDef{});
  s.complete_through = T("2024-01-08");
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kTest);
  EXPECT_EQ(FormatIso(*p.complete_through), "2024-01-08T22:00:00Z");
  // With tests, readers see it complete only as far as they passed.
  EXPECT_EQ(FormatIso(*ViewCompleteThrough(d, &s, in.upstream)), "2024-01-08T00:00:00Z");
  s.complete_through.reset();
  EXPECT_FALSE(ViewCompleteThrough(d, &s, in.upstream));

  in.definition_hash = "changed";
  EXPECT_EQ(PlanTable(in).action, Action::kRebuild);
}

TEST(StateAfter, RecordsCompletenessByStrategy) {
  TableDef d = Daily();
  Plan p;
  p.action = Action::kCreate;
  TableState s = StateAfter(d, TableState{}, p, {{T("2024-01-01"), T("2024-01-05")}}, "h", nlohmann::json::object());
  EXPECT_EQ(FormatIso(*s.complete_through), "2024-01-05T00:00:00Z");
  EXPECT_EQ(s.data_version, 1);
  EXPECT_EQ(s.version, 0);
  // A gap leaves completeness at the end of the contiguous part.
  p.action = Action::kAppend;
  s = StateAfter(d, s, p, {{T("2024-01-06"), T("2024-01-07")}}, "h", nlohmann::json::object());
  EXPECT_EQ(FormatIso(*s.complete_through), "2024-01-05T00:00:00Z");
  p.action = Action::kRebuild;
  s = StateAfter(d, s, p, {{T("2024-01-01"), T("2024-01-03")}}, "h2", nlohmann::json::object());
  EXPECT_EQ(FormatIso(*s.complete_through), "2024-01-03T00:00:00Z");
  EXPECT_EQ(s.version, 1);
  EXPECT_EQ(s.definition_hash, "h2");

  TableDef r = DailyReplace();
  p.action = Action::kReplace;
  p.complete_through = T("2024-01-09");
  p.rewrites = true;  // a new table
  s = StateAfter(r, TableState{}, p, {}, "h", nlohmann::json::object());
  EXPECT_EQ(FormatIso(*s.complete_through), "2024-01-09T00:00:00Z");
  EXPECT_EQ(s.version, 1);
}

TEST(PlanRepair, MergeRebuildsReplaceRebuildsAtItsCompletenessViewsPassThrough) {
  TableDef d = Daily();
  TableState s;
  s.definition_hash = "h";
  s.data_version = 2;
  s.completed.Add({T("2024-01-01"), T("2024-01-10")});
  RepairInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.state = &s;
  in.changed = {T("2024-01-03T05:00:00Z"), T("2024-01-04")};
  in.now = T("2024-02-01");
  auto r = PlanRepair(in);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->plan.action, Action::kAppend);
  EXPECT_EQ((*r)->changes, (Window{T("2024-01-03"), T("2024-01-04")}));

  d.strategy = Strategy::kMerge;
  r = PlanRepair(in);
  EXPECT_EQ((*r)->plan.action, Action::kRebuild);
  EXPECT_EQ((*r)->plan.windows(), 9);

  TableDef rep = DailyReplace();
  s.complete_through = T("2024-01-07");
  in.def = &rep;
  r = PlanRepair(in);
  EXPECT_EQ((*r)->plan.action, Action::kReplace);
  EXPECT_EQ(FormatIso((*r)->plan.batches[0].read.end), "2024-01-07T00:00:00Z");
  EXPECT_EQ(FormatIso(*(*r)->plan.complete_through), "2024-01-07T00:00:00Z");
  // Only a change within what it read up to its completeness repairs it: past that, it
  // promised nothing, and its next rebuild reads the change.
  const Window all_of_it = in.changed;
  in.changed = {T("2024-01-07"), T("2024-01-09")};
  r = PlanRepair(in);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  in.changed = {T("2024-01-06T23:00:00Z"), T("2024-01-09")};
  r = PlanRepair(in);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->plan.action, Action::kReplace);
  in.changed = all_of_it;

  TableDef view = DailyReplace();
  view.strategy = Strategy::kView;
  in.def = &view;
  r = PlanRepair(in);
  EXPECT_EQ((*r)->plan.action, Action::kWait);
  EXPECT_EQ((*r)->changes, in.changed);
  in.explicit_windows = true;
  EXPECT_FALSE(PlanRepair(in).ok());
}

TEST(PlanTable, WindowValuesAndLongWindowsBuildOnePeriodAtATime) {
  TableDef d = Daily();
  EXPECT_EQ(BatchSize(d, false), 92);
  EXPECT_EQ(BatchSize(d, true), 1);
  d.window = {3, TimeUnit::kDay};
  EXPECT_EQ(BatchSize(d, false), 1);
  d.batch = 10;
  EXPECT_EQ(BatchSize(d, true), 10);  // the user said so
  auto batches = MakeBatches(d, *ParseTimestamp("2024-01-01"), *ParseTimestamp("2024-01-03"), 1, false);
  ASSERT_EQ(batches.size(), 2u);
  // Each period reads three days back from its end.
  EXPECT_EQ(FormatIso(batches[1].read.start), "2023-12-31T00:00:00Z");
  EXPECT_EQ(FormatIso(batches[1].read.end), "2024-01-03T00:00:00Z");
}

TEST(OperationName, BackfillsAndTestsAndStrategies) {
  Plan p;
  p.action = Action::kAppend;
  EXPECT_EQ(OperationName(p, Strategy::kAppend, false), "append");
  EXPECT_EQ(OperationName(p, Strategy::kMerge, false), "merge");
  EXPECT_EQ(OperationName(p, Strategy::kMerge, true), "backfill");
  p.action = Action::kRebuild;
  EXPECT_EQ(OperationName(p, Strategy::kMerge, false), "rebuild");
  EXPECT_EQ(OperationName(p, Strategy::kMerge, true), "backfill");  // a merge backfill rebuilds, logged as asked
  p.action = Action::kTest;
  EXPECT_EQ(OperationName(p, Strategy::kView, true), "test");  // a view's backfill only tests it
  p.action = Action::kCreate;
  EXPECT_EQ(OperationName(p, Strategy::kView, false), "create");
  p.action = Action::kReplace;
  EXPECT_EQ(OperationName(p, Strategy::kReplace, false), "replace");
}

// The change a new project version makes, decided from the state and the plan alone.
TEST(ChangeOf, CreateRebuildRepairMetadataRefusedOrNothing) {
  TableDef d = Daily();
  TableState built;
  built.table = "core.t";
  built.definition_hash = "h";
  built.data_version = 3;
  built.version = 1;
  built.config = {{"metadata_hash", "m"}};
  built.inputs = {{"core.up", {{"version", 1}, {"definition_hash", "u"}}}};
  UpstreamStatus up;
  up.name = "core.up";
  up.exists = true;
  up.version = 1;
  up.definition_hash = "u";
  up.data_version = 5;
  up.complete_through = *ParseTimestamp("2024-01-05");

  PlanInput in;
  in.def = &d;
  in.definition_hash = "h";
  in.upstream = {up};
  in.now = *ParseTimestamp("2024-01-05");
  Plan wait;
  wait.reason = "waits for core.up";
  Plan three;
  three.action = Action::kAppend;
  three.batches = MakeBatches(d, *ParseTimestamp("2024-01-01"), *ParseTimestamp("2024-01-04"), 1, false);

  // Never built (no state, or one without data): create.
  PlannedChange c = ChangeOf(in, three, "m");
  EXPECT_EQ(c.change, Change::kCreate);
  EXPECT_EQ(c.windows, 3);
  EXPECT_EQ(c.detail, "3 windows ready now");
  EXPECT_EQ(ChangeOf(in, wait, "m").detail, "nothing ready yet: waits for core.up");

  in.state = &built;
  EXPECT_EQ(ChangeOf(in, three, "m").change, Change::kNone);  // new windows are a run's business
  EXPECT_EQ(ChangeOf(in, three, "m2").change, Change::kMetadata);

  in.definition_hash = "h2";
  c = ChangeOf(in, three, "m2");  // a definition change outranks a metadata change
  EXPECT_EQ(c.change, Change::kRebuild);
  EXPECT_EQ(c.detail, "definition changed: 3 windows rebuilt into a new version");
  EXPECT_EQ(ChangeOf(in, wait, "m").detail,
            "definition changed: 0 windows rebuilt into a new version; not ready yet: waits for core.up");

  in.definition_hash = "h";
  in.upstream[0].version = 2;  // the upstream was rebuilt into a new version
  c = ChangeOf(in, three, "m");
  EXPECT_EQ(c.change, Change::kRepair);
  EXPECT_EQ(c.detail, "upstream core.up is rebuilt: 3 windows rebuilt");

  Plan refused;
  refused.refused = "too many windows";
  c = ChangeOf(in, refused, "m");
  EXPECT_EQ(c.change, Change::kRefused);
  EXPECT_EQ(c.detail, "too many windows");
  EXPECT_EQ(c.ToJson().dump(), R"({"change":"refused","detail":"too many windows","table":"core.t","windows":0})");
}

}  // namespace
}  // namespace derived
