// Regression tests for the hardening issue's findings that the lead fixed: broken files
// are never removed (finding 4), invalid new files fail the run (finding 10), and runs
// that would plan absurd numbers of windows stop first (finding 11). Each runs the real
// binary on a real project, on both engines; expected contents come from plain SQL over the raw data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "engine_testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::WarehouseProject;

const char* kSignups = R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS signups FROM raw.users
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)";

void WriteProject(const WarehouseProject& p) {
  p.Configure("removed_tables: {keep_for: 1 day}\n");
  p.Write("sources/raw/users.yaml",
          "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: id, type: BIGINT}\n  - {name: ts, type: TIMESTAMP}\n");
  p.Write("tables/core/signups.yaml", kSignups);
  p.Write("tables/marts/total.yaml", "schedule: daily\nsql: SELECT sum(signups) AS signups FROM core.signups\n");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.users AS SELECT CAST(i AS BIGINT) AS id, TIMESTAMP '2024-01-01' + "
      "i * "
      "INTERVAL '37 minutes' AS ts FROM generate_series(0, 1999) t(i)");
}

// Does dataset.table exist?
int64_t Exists(const WarehouseProject& p, const std::string& dataset, const std::string& table) {
  return p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + dataset +
                 "' AND table_name = '" + table + "'");
}

// Each test runs on both engines.
class HardeningOn : public ::testing::TestWithParam<WarehouseEngine> {};

std::string SignupsThrough(const std::string& day) {
  return "SELECT date_trunc('day', ts) AS day, count(*) AS signups FROM raw.users WHERE ts < '" + day +
         "' GROUP BY 1";
}

// A YAML typo (a tab, or an invalid window) in an existing table made run --once take it
// for removed, and with removed_tables.keep_for it was dropped a day later.
TEST_P(HardeningOn, AYamlTypoInAnExistingTableNeverDropsIt) {
  for (const std::string& typo : {std::string("\tstrategy: append"), std::string("strategy: append\nwindow: 3 fortnights")}) {
    SCOPED_TRACE(typo);
    WarehouseProject p(GetParam());
    WriteProject(p);
    ASSERT_EQ(p.Derived({"source", "mark", "raw.users", "--through", "2024-01-10"}).exit_code, 0);
    auto r = p.Derived({"run", "--once"}, "2024-01-10T00:00:00Z");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(p.Difference("SELECT * FROM core.signups", SignupsThrough("2024-01-10")), 0);

    p.Write("tables/core/signups.yaml", ReplaceAll(kSignups, "strategy: append", typo));
    ASSERT_EQ(p.Derived({"source", "mark", "raw.users", "--through", "2024-01-20"}).exit_code, 0);
    auto plan = p.Derived({"plan"}, "2024-01-12T00:00:00Z");
    EXPECT_THAT(plan.out, HasSubstr("core.signups"));
    EXPECT_THAT(plan.out, HasSubstr("tables/core/signups.yaml does not load"));
    EXPECT_THAT(plan.out, Not(HasSubstr("removed")));
    for (const char* now : {"2024-01-12T00:00:00Z", "2024-01-15T00:00:00Z"}) {  // past keep_for
      r = p.Derived({"run", "--once"}, now);
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_THAT(r.out, HasSubstr("FAILED   core.signups  tables/core/signups.yaml does not load: "
                                   "tables/core/signups.yaml:"));
      EXPECT_THAT(r.out, HasSubstr("skipped  marts.total  upstream core.signups has an invalid definition"));
    }
    // Kept as it was: not updated, not removed, not dropped.
    EXPECT_EQ(p.Difference("SELECT * FROM core.signups", SignupsThrough("2024-01-10")), 0);
    EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.signups' AND operation IN "
                      "('removed', 'drop')"),
              0);
    EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.signups' AND operation = "
                      "'validate' AND status = 'failed'"),
              1);  // once per distinct problem
    auto status = p.Derived({"status"}, "2024-01-15T00:00:00Z");
    EXPECT_THAT(status.out, HasSubstr("broken: tables/core/signups.yaml does not load"));
    EXPECT_THAT(status.out, Not(HasSubstr("removed from the project")));

    // Fixed, it catches up from where it was, without a rebuild.
    p.Write("tables/core/signups.yaml", kSignups);
    r = p.Derived({"run", "--once"}, "2024-01-20T00:00:00Z");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(p.Difference("SELECT * FROM core.signups", SignupsThrough("2024-01-20")), 0);
    EXPECT_EQ(p.Scalar("SELECT signups FROM marts.total"), p.Scalar("SELECT count(*) FROM raw.users WHERE ts < '2024-01-20'"));
    EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.signups' AND operation IN "
                      "('create', 'rebuild')"),
              1);
  }
}

// A file that is gone is still removed (and dropped after keep_for), even while another
// file is broken.
TEST_P(HardeningOn, OnlyAFileThatIsGoneCountsAsRemoved) {
  WarehouseProject p(GetParam());
  WriteProject(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.users", "--through", "2024-01-10"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-01-10T00:00:00Z").exit_code, 0);
  std::filesystem::remove(p.dir().path() / "tables/marts/total.yaml");
  p.Write("tables/core/signups.yaml", "schedule: daily\n  sql: [\n");
  auto r = p.Derived({"run", "--once"}, "2024-01-11T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("removed  marts.total"));
  r = p.Derived({"run", "--once"}, "2024-01-13T00:00:00Z");
  EXPECT_THAT(r.out, HasSubstr("dropped  marts.total"));
  EXPECT_EQ(Exists(p, "marts", "total"), 0);
  EXPECT_EQ(Exists(p, "core", "signups"), 1);
}

// An invalid new table or source file (empty SQL, a non-map file, a bad name or type)
// left run --once exiting 0.
TEST_P(HardeningOn, AnInvalidNewFileFailsTheRunAfterTheValidTablesAreBuilt) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"tables/core/empty_sql.yaml", "schedule: daily\nsql: ''\n"},
      {"tables/core/not_a_map.yaml", "- just\n- a list\n"},
      {"tables/core/bad_name.yaml", "name: 'two words'\nsql: SELECT 1 AS x\n"},
      {"sources/raw/bad_type.yaml", "freshness: marker\ncolumns:\n  - {name: id, type: NOT_A_TYPE}\n"},
  };
  for (const auto& [file, text] : bad) {
    SCOPED_TRACE(file);
    WarehouseProject p(GetParam());
    WriteProject(p);
    p.Write(file, text);
    ASSERT_EQ(p.Derived({"source", "mark", "raw.users", "--through", "2024-01-10"}).exit_code, 0);
    auto v = p.Derived({"validate"});
    EXPECT_NE(v.exit_code, 0);
    EXPECT_THAT(v.err + v.out, HasSubstr(file));
    auto r = p.Derived({"run", "--once"}, "2024-01-10T00:00:00Z");
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(file));
    EXPECT_EQ(p.Difference("SELECT * FROM core.signups", SignupsThrough("2024-01-10")), 0);
    EXPECT_EQ(p.Scalar("SELECT signups FROM marts.total"), p.Scalar("SELECT count(*) FROM raw.users WHERE ts < '2024-01-10'"));
  }
}

// A start in year 1, or a mark and a clock in year 9999, planned millions of windows and
// wrote tens of thousands of log rows before anyone noticed.
TEST_P(HardeningOn, AbsurdRangesAreRefusedBeforeAnyWindowIsPlanned) {
  WarehouseProject p(GetParam());
  WriteProject(p);
  p.Configure("limits: {max_windows_per_run: 30}\n");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.users", "--through", "2024-03-01"}).exit_code, 0);
  auto plan = p.Derived({"plan"}, "2024-03-01T00:00:00Z");
  EXPECT_THAT(plan.out, HasSubstr("core.signups would build 60 daily windows in one run (2024-01-01T00:00:00Z to "
                                  "2024-03-01T00:00:00Z), more than limits.max_windows_per_run (30)"));
  for (int i = 0; i < 2; ++i) {
    auto r = p.Derived({"run", "--once"}, "2024-03-01T00:00:00Z");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.out, HasSubstr("FAILED   core.signups  core.signups would build 60 daily windows"));
  }
  EXPECT_EQ(Exists(p, "core", "signups"), 0);
  // One log row says why, however often it is tried; nothing else was written.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.signups'"), 1);
  EXPECT_THAT(p.Scalar("SELECT last_error FROM _derived.state WHERE table_name = 'core.signups'"),
              HasSubstr("limits.max_windows_per_run"));
  auto status = p.Derived({"status"}, "2024-03-01T00:00:00Z");
  EXPECT_THAT(status.out, HasSubstr("more than limits.max_windows_per_run"));

  // Within the limit it builds; so does the rest, window by window, at each run.
  p.Configure("limits: {max_windows_per_run: 60}\n");
  auto r = p.Derived({"run", "--once"}, "2024-03-01T00:00:00Z");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.signups", SignupsThrough("2024-03-01")), 0);
  // A backfill is bounded the same way.
  p.Configure("limits: {max_windows_per_run: 30}\n");
  r = p.Derived({"backfill", "core.signups", "--from", "2024-01-01", "--to", "2024-03-01"}, "2024-03-01T00:00:00Z");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err + r.out, HasSubstr("more than limits.max_windows_per_run (30)"));
  // A limit that makes no sense is a clear error in derived.yaml.
  p.Configure("limits: {max_windows_per_run: 0}\n");
  auto v = p.Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.err, HasSubstr("derived.yaml:3:"));
  EXPECT_THAT(v.err, HasSubstr("limits.max_windows_per_run must be at least 1"));
}

INSTANTIATE_TEST_SUITE_P(BothEngines, HardeningOn, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
