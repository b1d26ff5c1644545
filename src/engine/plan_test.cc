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
  u.watermark = *ParseTimestamp(through);
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

TEST(PlanTable, ReplaceUpstreamsOnlyNeedToExist) {
  TableDef d = Daily();
  d.schedule = Schedule::kHourly;
  d.window = PeriodOf(Schedule::kHourly);
  UpstreamStatus lookup;
  lookup.name = "core.lookup";
  lookup.strategy = Strategy::kReplace;
  lookup.exists = false;
  PlanInput in;
  in.def = &d;
  in.upstream = {Source("raw.a", "2024-01-01T03:00:00Z"), lookup};
  in.now = *ParseTimestamp("2024-02-01");
  Plan p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kWait);
  EXPECT_EQ(p.waiting_on, std::vector<std::string>{"core.lookup"});
  in.upstream[1].exists = true;
  in.upstream[1].watermark = *ParseTimestamp("2023-12-01");  // a monthly lookup
  p = PlanTable(in);
  EXPECT_EQ(p.action, Action::kCreate);
  EXPECT_EQ(FormatIso(p.batches.back().write.end), "2024-01-01T03:00:00Z");
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

}  // namespace
}  // namespace derived
