// End-to-end tests of the build engine: `derived run --once`, backfill, status, log and
// source marks on real warehouses, each test on both engines. Every expectation about table
// contents is a plain SQL query over the raw data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "engine_testing.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::WarehouseProject;

// raw.events: 20 days of events, one every 20 minutes, for 7 users.
void AddEvents(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", R"(time_column: ts
freshness: marker
columns:
  - {name: user_id, type: BIGINT}
  - {name: ts, type: TIMESTAMP}
  - {name: amount, type: FLOAT8}
  - {name: kind, type: VARCHAR}
)");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT CAST(i * 5 % 7 AS BIGINT) AS user_id, TIMESTAMP "
      "'2024-01-01' + i * INTERVAL '20 minutes' AS ts, CAST((i % 13) * 1.5 AS FLOAT8) AS amount, CAST(CASE WHEN i % "
      "3 = 0 THEN NULL ELSE 'k' || (i % 4) END AS VARCHAR) AS kind FROM generate_series(0, 3 * 24 * 20 - 1) t(i)");
}

// A table's comment, as the engine keeps it.
std::string TableComment(const WarehouseProject& p, const std::string& dataset, const std::string& table) {
  return p.Scalar(p.postgres() ? "SELECT obj_description('" + dataset + "." + table + "'::regclass)"
                               : "SELECT comment FROM duckdb_tables() WHERE schema_name = '" + dataset +
                                     "' AND table_name = '" + table + "'");
}

// Does dataset.table exist (a table or a view)?
int64_t Exists(const WarehouseProject& p, const std::string& dataset, const std::string& table) {
  return p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + dataset +
                 "' AND table_name = '" + table + "'");
}

// Timestamps as text, cut to the first `n` characters ("2024-01-03 04:05:06").
std::string Cut(const std::string& expr, int from, int n) {
  return "substr(CAST(" + expr + " AS VARCHAR), " + std::to_string(from) + ", " + std::to_string(n) + ")";
}

class EngineOn : public ::testing::TestWithParam<WarehouseEngine> {};

const char* kDaily = R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
columns:
  - {name: day, type: TIMESTAMP, description: UTC day}
  - {name: events, type: BIGINT}
tests:
  - not_null: [day]
  - unique: [day]
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS events, sum(amount) AS amount
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)";

const char* kDailyExpected =
    "SELECT date_trunc('day', ts)::TIMESTAMP AS day, count(*) AS events, sum(amount) AS amount FROM raw.events "
    "WHERE ts < TIMESTAMP '{}' GROUP BY 1";

std::string Expected(const char* pattern, const std::string& through) {
  std::string s = pattern;
  s.replace(s.find("{}"), 2, through);
  return s;
}

TEST_P(EngineOn, AppendBuildsEveryReadyWindowAndReRunsChangeNothing) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-10T05:00:00Z"}).exit_code, 0);

  auto r = p.Derived({"run", "--once"}, "2024-01-25");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    core.daily  create: 9 windows"));
  // Ready only through the last whole day the source is complete for.
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 9);
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", Expected(kDailyExpected, "2024-01-10")), 0);

  std::string log_before = p.Scalar("SELECT count(*) FROM _derived.log");
  r = p.Derived({"run", "--once"}, "2024-01-25");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("1 waiting"));
  EXPECT_EQ(p.Scalar("SELECT count(*) FROM _derived.log"), log_before);
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", Expected(kDailyExpected, "2024-01-10")), 0);

  // No sooner than the clock: data through the 20th, but it is only the 15th at noon.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-21"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-01-15T12:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", Expected(kDailyExpected, "2024-01-15")), 0);
  EXPECT_EQ(p.Scalar("SELECT " + Cut("complete_through", 1, 10) + " FROM _derived.state WHERE table_name = 'core.daily'"),
            "2024-01-15");
}

TEST_P(EngineOn, InitialPopulationUsesBatchesThenWindows) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  std::string def = kDaily;
  def.replace(def.find("start:"), 0, "batch: 4\n");
  p.Write("tables/core/daily.yaml", def);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-11"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  // 10 days in batches of 4: [1,5) [5,9) [9,11).
  EXPECT_EQ(p.Scalar("SELECT string_agg(" + Cut("window_start", 9, 2) + " || '-' || " + Cut("window_end", 9, 2) +
                     ", ' ' ORDER BY window_start) FROM _derived.log WHERE table_name = 'core.daily'"),
            "01-05 05-09 09-11");
  EXPECT_EQ(p.Scalar("SELECT DISTINCT operation FROM _derived.log"), "create");
  // State keeps merged ranges, never one row per window.
  EXPECT_EQ(p.Scalar("SELECT CAST(completed AS VARCHAR) FROM _derived.state"),
            R"([["2024-01-01T00:00:00Z","2024-01-11T00:00:00Z"]])");
}

const char* kMerge = R"(schedule: daily
strategy: merge
start: 2024-01-01
time_column: last_ts
merge:
  keys: [user_id]
  rules: {first_ts: min, last_ts: max, total: sum, events: sum, kinds: count, first_kind: coalesce, last_amount: latest, first_amount: earliest}
sql: |
  SELECT user_id, ts AS first_ts, ts AS last_ts, amount AS total, 1 AS events, kind AS kinds,
         kind AS first_kind, amount AS last_amount, amount AS first_amount
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
)";

// The same question answered from scratch over the raw data.
const char* kMergeExpected = R"(
  SELECT user_id, min(ts) AS first_ts, max(ts) AS last_ts, sum(amount) AS total, count(*) AS events,
         count(kind) AS kinds, (array_agg(kind ORDER BY ts) FILTER (WHERE kind IS NOT NULL))[1] AS first_kind,
         (array_agg(amount ORDER BY ts DESC))[1] AS last_amount, (array_agg(amount ORDER BY ts))[1] AS first_amount
  FROM raw.events WHERE ts < TIMESTAMP '{}' GROUP BY user_id)";

TEST_P(EngineOn, MergeCombinesDuplicateKeysByTheRulesAndEqualsAFromScratchAnswer) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/users.yaml", kMerge);
  // Many rows per key inside every batch, merged again across runs.
  for (const char* through : {"2024-01-04", "2024-01-05", "2024-01-09", "2024-01-16"}) {
    ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", through}).exit_code, 0);
    auto r = p.Derived({"run", "--once"}, "2024-02-01");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(p.Difference("SELECT * FROM core.users", Expected(kMergeExpected, through)), 0) << through;
  }
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.users"), 7);
  // After the first run, every later run updated the seven users and inserted nobody.
  EXPECT_EQ(p.Scalar("SELECT sum(rows_updated) || '/' || sum(rows_inserted) FROM _derived.log WHERE operation = "
                     "'merge'"),
            "21/0");
}

// Regression: an append or merge table got its comments only from a later metadata
// change, not when its first window created it.
TEST_P(EngineOn, AnAppendTableHasItsCommentsFromTheWindowThatCreatesIt) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", std::string("description: Daily events.\n") + kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-02"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-01-02");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TableComment(p, "core", "daily"), "Daily events.");
  EXPECT_EQ(p.Scalar(p.postgres() ? "SELECT col_description('core.daily'::regclass, 1)"
                                  : "SELECT comment FROM duckdb_columns() WHERE table_name = 'daily' AND column_name = "
                                    "'day'"),
            "UTC day");
}

TEST_P(EngineOn, ReplaceRebuildsOnlyWhenItsCompletenessAdvances) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Write("tables/core/totals.yaml", R"(schedule: weekly
description: All-time totals.
columns:
  - {name: days, description: Days with data}
sql: SELECT count(*) AS days, sum(events) AS events FROM daily
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-08"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-01-10");  // weekly period ends Monday 2024-01-08
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    core.totals  replace"));
  EXPECT_EQ(p.Scalar("SELECT days || '/' || events FROM core.totals"), "7/504");
  EXPECT_EQ(TableComment(p, "core", "totals"), "All-time totals.");

  // Same period: nothing to do.
  r = p.Derived({"run", "--once"}, "2024-01-12");
  EXPECT_THAT(r.out, Not(HasSubstr("core.totals")));
  // A new period but its input no further: still nothing.
  r = p.Derived({"run", "--once"}, "2024-01-16");
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.totals'"), 1);
  // Its input complete through the next period: rebuilt and swapped in, as new data (the
  // data version moves on, the version, which only a rewrite moves, does not).
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-01-16");
  EXPECT_THAT(r.out, HasSubstr("built    core.totals  replace"));
  EXPECT_EQ(p.Scalar("SELECT days || '/' || events FROM core.totals"), "14/1008");
  EXPECT_EQ(p.Scalar("SELECT version || '/' || data_version FROM _derived.state WHERE table_name = 'core.totals'"),
            "1/2");
}

TEST_P(EngineOn, MixedSchedulesWaitForEveryInputWindow) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/hourly.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
sql: |
  SELECT date_trunc('hour', e.ts) AS hour, k.label, count(*) AS events
  FROM raw.events e JOIN kinds k ON k.kind = e.kind
  WHERE e.ts >= {{ window_start }} AND e.ts < {{ window_end }}
  GROUP BY 1, 2
)");
  // A monthly lookup: hourly readers use its latest version and never wait a month.
  p.Write("tables/core/kinds.yaml", R"(schedule: monthly
lookup: true
sql: SELECT 'k' || i AS kind, 'label' || i AS label FROM generate_series(0, 3) t(i)
)");
  p.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', hour) AS day, sum(events) AS events FROM hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/weekly.yaml", R"(schedule: weekly
strategy: append
start: 2024-01-01
time_column: week
sql: |
  SELECT date_trunc('week', day) AS week, sum(events) AS events FROM daily
  WHERE day >= {{ window_start }} AND day < {{ window_end }} GROUP BY 1
)");
  // Six and a half days: the week of Jan 1 (Monday) is not complete.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-07T12:00:00Z"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-03-05");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Count("SELECT count(DISTINCT hour) FROM core.hourly"), 6 * 24 + 12);
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 6);
  EXPECT_EQ(Exists(p, "core", "weekly"), 0);
  auto status = p.Derived({"status", "--json"}, "2024-03-05");
  auto doc = nlohmann::json::parse(status.out);
  for (const auto& row : doc) {
    if (row["table"] == "core.weekly") {
      EXPECT_EQ(row["waiting_on"], nlohmann::json::array({"core.daily"}));
      EXPECT_THAT(row["next"].get<std::string>(), HasSubstr("needs 2024-01-08T00:00:00Z"));
    }
  }
  // The last half day arrives: the whole chain completes in one run.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-08"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-03-05");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Difference("SELECT week, events FROM core.weekly",
                         "SELECT TIMESTAMP '2024-01-01' AS week, count(*) AS events FROM raw.events WHERE ts < "
                         "'2024-01-08' AND kind IS NOT NULL"),
            0);
}

TEST_P(EngineOn, LateDataIsBuiltOnceMarkedAndBackfillRepairsAWindow) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Write("tables/core/users.yaml", kMerge);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-06"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  // Rows land late for a built day (Jan 3) and for a day not yet complete (Jan 6).
  p.Sql("INSERT INTO raw.events VALUES (100, TIMESTAMP '2024-01-03 10:00:00', 1000, 'late'), "
        "(101, TIMESTAMP '2024-01-06 10:00:00', 2000, 'late')");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-07"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  // Jan 6 includes its late row; Jan 3 was built before its row arrived.
  EXPECT_EQ(p.Scalar("SELECT events FROM core.daily WHERE day = '2024-01-06'"), "73");
  EXPECT_EQ(p.Scalar("SELECT events FROM core.daily WHERE day = '2024-01-03'"), "72");

  auto r = p.Derived({"backfill", "core.daily", "--from", "2024-01-03", "--to", "2024-01-04"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("backfill: 1 window, 1 inserted, 0 updated, 1 deleted"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", Expected(kDailyExpected, "2024-01-07")), 0);

  // A merge table is rebuilt from scratch: re-merging could not take back old rows.
  p.Sql("UPDATE raw.events SET amount = -50 WHERE ts = TIMESTAMP '2024-01-02 00:00:00'");
  r = p.Derived({"backfill", "core.users", "--from", "2024-01-02", "--to", "2024-01-03"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("merge table rebuilt from scratch"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.users' AND operation = 'backfill' "
                    "AND (details->>'reason') LIKE 'merge table rebuilt from scratch%'"),
            1);
  EXPECT_EQ(p.Difference("SELECT * FROM core.users", Expected(kMergeExpected, "2024-01-07")), 0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'backfill'"), 2);

  r = p.Derived({"backfill", "core.daily", "--from", "2024-03-01", "--to", "2024-03-02"}, "2024-04-01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("core.daily has no completed windows in [2024-03-01T00:00:00Z"));
}

TEST_P(EngineOn, AFailingTableIsLoggedItsReadersSkippedAndOthersStillRun) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Write("tables/core/broken.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, CAST(kind AS INTEGER) AS n FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
)");
  p.Write("tables/mart/reader.yaml", R"(schedule: daily
sql: SELECT count(*) AS n FROM core.broken
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-04"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_EQ(r.exit_code, 1);
  if (p.postgres()) {
    // PostgreSQL gives an executor error no position: the line where the query starts.
    EXPECT_THAT(r.out, HasSubstr("FAILED   core.broken  tables/core/broken.yaml:6: the query failed: invalid input "
                                 "syntax for type integer: \"k1\""));
  } else {
    EXPECT_THAT(
        r.out,
        HasSubstr("FAILED   core.broken  tables/core/broken.yaml:6:40: the query failed: Conversion Error"));
  }
  EXPECT_THAT(r.out, HasSubstr("skipped  mart.reader  upstream core.broken failed"));
  EXPECT_THAT(r.out, HasSubstr("built    core.daily"));
  EXPECT_THAT(r.err, HasSubstr("error: 1 table failed: core.broken"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 3);
  EXPECT_EQ(Exists(p, "core", "broken"), 0);
  EXPECT_THAT(
      p.Scalar("SELECT error FROM _derived.log WHERE table_name = 'core.broken' AND status = 'failed'"),
      HasSubstr(p.postgres() ? "invalid input syntax for type integer: \"k1\"" : "Could not convert string"));
  auto status = p.Derived({"status"}, "2024-02-01");
  EXPECT_THAT(status.out, HasSubstr("core.broken last error:"));
}

TEST_P(EngineOn, AFailingDataTestRollsBackAndKeepsTheLastGoodState) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/kinds.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
tests:
  - accepted_values: {column: kind, values: [k1, k2, k3]}
  - name: positive_counts
    sql: SELECT * FROM {{ this }} WHERE n <= 0
  - name: at_most_three_kinds_a_day
    sql: SELECT day FROM core.kinds GROUP BY day HAVING count(*) > 3
sql: |
  SELECT date_trunc('day', ts) AS day, kind, count(*) AS n FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} AND kind IS NOT NULL
    AND (kind <> 'k0' OR ts >= '2024-01-03')
  GROUP BY 1, 2
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  std::string before = p.Scalar("SELECT count(*) || '/' || sum(n) FROM core.kinds");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("test 'accepted_values_kind' failed: 2 offending rows; test 'at_most_three_kinds_a_day' "
                               "failed: 2 offending rows"));
  EXPECT_THAT(r.out, Not(HasSubstr("positive_counts")));
  EXPECT_EQ(p.Scalar("SELECT count(*) || '/' || sum(n) FROM core.kinds"), before);
  EXPECT_EQ(p.Scalar("SELECT " + Cut("complete_through", 1, 10) + " || ' ' || last_status FROM _derived.state"),
            "2024-01-03 test_failed");
  EXPECT_EQ(p.Scalar("SELECT details->'tests'->0->'samples'->0->>'kind' FROM _derived.log WHERE status = "
                     "'test_failed'"),
            "k0");
}

TEST_P(EngineOn, RowsOutsideTheWindowAndWrongTypesFailBeforeAnythingIsWritten) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/unfiltered.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: SELECT date_trunc('day', ts) AS day, count(*) AS n FROM raw.events GROUP BY 1
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("the query returned 18 rows whose time_column 'day' is outside the window "
                               "[2024-01-01T00:00:00Z, 2024-01-03T00:00:00Z)"));
  EXPECT_EQ(Exists(p, "core", "unfiltered"), 0);

  // The source says amount is DOUBLE; the real table disagrees. The declared column
  // is checked against what the query really returns.
  p.Write("tables/core/unfiltered.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
columns:
  - {name: amount, type: FLOAT8}
sql: |
  SELECT date_trunc('day', ts) AS day, amount FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
)");
  p.Sql("ALTER TABLE raw.events ALTER amount TYPE VARCHAR");
  r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out,
              HasSubstr(p.postgres() ? "column 'amount' is declared double precision but the query returns "
                                       "character varying"
                                     : "column 'amount' is declared DOUBLE but the query returns VARCHAR"));
  EXPECT_EQ(Exists(p, "core", "unfiltered"), 0);
}

TEST_P(EngineOn, ChangedDefinitionRebuildsIntoANewVersion) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  std::string changed = kDaily;
  changed.replace(changed.find("sum(amount)"), 11, "max(amount)");
  p.Write("tables/core/daily.yaml", changed);
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rebuild: 4 windows"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                         "SELECT date_trunc('day', ts)::TIMESTAMP, count(*), max(amount) FROM raw.events WHERE ts < "
                         "'2024-01-05' GROUP BY 1"),
            0);
  // A description change alone rebuilds nothing: it updates the table's comment and logs that.
  std::string version = p.Scalar("SELECT version FROM _derived.state WHERE table_name = 'core.daily'");
  changed.insert(0, "description: Daily events.\n");
  p.Write("tables/core/daily.yaml", changed);
  r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_THAT(r.out, HasSubstr("updated  core.daily  metadata updated (no rebuild)"));
  EXPECT_EQ(TableComment(p, "core", "daily"), "Daily events.");
  EXPECT_EQ(p.Scalar("SELECT version FROM _derived.state WHERE table_name = 'core.daily'"), version);
  EXPECT_EQ(p.Scalar("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND operation = 'metadata'"),
            "1");
  r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_THAT(r.out, HasSubstr("1 waiting"));
}

TEST_P(EngineOn, MarksAndLogCommands) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("sources/raw/lookup.yaml", "freshness: {query: SELECT TIMESTAMP '2024-01-01'}\n");
  auto r = p.Derived({"source", "mark", "raw.event", "--through", "2024-01-03"});
  EXPECT_EQ(r.exit_code, 2);  // a name that names nothing is bad usage
  EXPECT_THAT(r.err, HasSubstr("unknown source 'raw.event' (did you mean 'raw.events'?)"));
  r = p.Derived({"source", "mark", "raw.lookup", "--through", "2024-01-03"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("only sources with 'freshness: marker' are marked"));
  r = p.Derived({"source", "mark", "raw.events", "--through", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--through"));

  p.Write("tables/core/daily.yaml", kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once", "--json"}, "2024-02-01").exit_code, 0);
  r = p.Derived({"log", "core.daily", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  auto row = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(row["table_name"], "core.daily");
  EXPECT_EQ(row["operation"], "create");
  EXPECT_EQ(row["window_start"], "2024-01-01 00:00:00");
  EXPECT_EQ(row["window_end"], "2024-01-03 00:00:00");
  EXPECT_EQ(row["rows_inserted"], "2");
  EXPECT_EQ(row["status"], "success");
  EXPECT_EQ(nlohmann::json::parse(row["inputs"].get<std::string>())["raw.events"]["complete_through"],
            "2024-01-03T00:00:00Z");
  // Freshness from SQL alone.
  EXPECT_EQ(p.Scalar("SELECT " + Cut("max(window_end)", 1, 10) +
                     " FROM _derived.log WHERE table_name = "
                     "'core.daily' AND status = 'success'"),
            "2024-01-03");
  r = p.Derived({"query", "SELECT * FROM nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(p.postgres() ? "relation \"nope\" does not exist"
                                            : "Table with name nope does not exist"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// Progress is drawn on a terminal and never written into pipes.
TEST_P(EngineOn, ProgressOnATerminalOnly) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  // In a pipe: the summary on stdout, nothing on stderr.
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  // On a terminal (util-linux `script` gives the command a pseudo-terminal).
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-09"}).exit_code, 0);
  std::string cmd = std::string("script -qec '") + DERIVED_BINARY + " run --once --project " + p.dir().str() +
                    " --now 2024-02-01' /dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0);
  EXPECT_THAT(out, HasSubstr("core.daily: 4/4 windows, 4 rows"));
  EXPECT_THAT(out, HasSubstr("built    core.daily  append: 4 windows"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// hourly -> daily -> weekly (append), users (merge) and totals (replace) on top.
void WriteChain(const WarehouseProject& p) {
  AddEvents(p);
  p.Write("tables/core/hourly.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
sql: |
  SELECT date_trunc('hour', ts) AS hour, count(*) AS events, sum(amount) AS amount FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', hour) AS day, sum(events) AS events, sum(amount) AS amount FROM hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/weekly.yaml", R"(schedule: weekly
strategy: append
start: 2024-01-01
time_column: week
sql: |
  SELECT date_trunc('week', day) AS week, sum(events) AS events, sum(amount) AS amount FROM daily
  WHERE day >= {{ window_start }} AND day < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/users.yaml", kMerge);
  p.Write("tables/core/totals.yaml", "schedule: daily\nsql: SELECT sum(events) AS events, sum(amount) AS amount FROM "
                                     "weekly\n");
}

// `users` reads raw.events directly, so it is only expected current when the source changed.
void ExpectChainMatchesRawData(const WarehouseProject& p, bool users = true) {
  const std::string raw = "FROM raw.events WHERE ts < '2024-01-15'";
  EXPECT_EQ(p.Difference("SELECT * FROM core.hourly",
                         "SELECT date_trunc('hour', ts), count(*), sum(amount) " + raw + " GROUP BY 1"),
            0);
  EXPECT_EQ(p.Difference("SELECT day, events, CAST(amount AS DECIMAL(18, 6)) FROM core.daily",
                         "SELECT date_trunc('day', ts)::TIMESTAMP, count(*), CAST(sum(amount) AS DECIMAL(18, 6)) " + raw +
                             " GROUP BY 1"),
            0);
  EXPECT_EQ(p.Difference("SELECT week, events, CAST(amount AS DECIMAL(18, 6)) FROM core.weekly",
                         "SELECT date_trunc('week', ts)::TIMESTAMP, count(*), CAST(sum(amount) AS DECIMAL(18, 6)) " + raw +
                             " GROUP BY 1"),
            0);
  if (users) {
    EXPECT_EQ(p.Difference("SELECT * FROM core.users", Expected(kMergeExpected, "2024-01-15")), 0);
  }
  EXPECT_EQ(p.Difference("SELECT events, CAST(amount AS DECIMAL(18, 6)) FROM core.totals",
                         "SELECT count(*), CAST(sum(amount) AS DECIMAL(18, 6)) " + raw),
            0);
}

TEST_P(EngineOn, RestatedSourceRepairsEveryWindowThatReadItAndNothingElse) {
  WarehouseProject p(GetParam());
  WriteChain(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-01-15T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectChainMatchesRawData(p);

  // The ingestion pipeline corrects Jan 3, 10:00-12:00.
  p.Sql("UPDATE raw.events SET amount = amount + 100 WHERE ts >= '2024-01-03 10:00' AND ts < '2024-01-03 12:00'");
  r = p.Derived({"source", "restate", "raw.events", "--from", "2024-01-03T10:00:00Z", "--to", "2024-01-03T12:00:00Z"},
                "2024-01-15T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly  repair: backfill: 2 windows"));
  EXPECT_THAT(r.out, HasSubstr("core.daily  repair: backfill: 1 window"));
  EXPECT_THAT(r.out, HasSubstr("core.weekly  repair: backfill: 1 window"));
  EXPECT_THAT(r.out, HasSubstr("core.users  repair: backfill"));
  EXPECT_THAT(r.out, HasSubstr("core.totals  repair: backfill"));
  ExpectChainMatchesRawData(p);
  EXPECT_EQ(p.Scalar("SELECT operation || ' ' || " + Cut("window_start", 9, 5) + " FROM _derived.log WHERE table_name = "
                     "'raw.events'"),
            "restate 03 10");
  // Repairs are logged as backfills of exactly the windows that read the change.
  EXPECT_EQ(p.Scalar("SELECT string_agg(" + Cut("window_start", 9, 5) + " || '-' || " + Cut("window_end", 9, 5) +
                     ", ',' ORDER BY window_start) FROM _derived.log WHERE table_name = 'core.daily' AND operation = "
                     "'backfill'"),
            "03 00-04 00");
}

TEST_P(EngineOn, BackfillDownstreamRepairsReaders) {
  WarehouseProject p(GetParam());
  WriteChain(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-01-15T06:00:00Z").exit_code, 0);
  p.Sql("DELETE FROM raw.events WHERE ts >= '2024-01-09 05:00' AND ts < '2024-01-09 06:00'");
  // Without --downstream only the table itself changes.
  auto r = p.Derived({"backfill", "core.hourly", "--from", "2024-01-09T05:00:00Z", "--to", "2024-01-09T06:00:00Z"},
                     "2024-01-15T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("core.daily")));
  r = p.Derived({"backfill", "core.hourly", "--from", "2024-01-09T05:00:00Z", "--to", "2024-01-09T06:00:00Z",
                 "--downstream"},
                "2024-01-15T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.weekly  repair: backfill: 1 window"));
  EXPECT_THAT(r.out, Not(HasSubstr("core.users")));  // it does not read core.hourly
  ExpectChainMatchesRawData(p, /*users=*/false);
  r = p.Derived({"backfill", "core.hourly", "--from", "2024-01-09", "--to", "2024-01-10", "--downstream",
                 "--no-downstream"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("excludes"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

TEST_P(EngineOn, LineageListsTheExactUpstreamRunsOfAWindow) {
  WarehouseProject p(GetParam());
  WriteChain(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-08"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-01-15T06:00:00Z").exit_code, 0);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-01-15T06:00:00Z").exit_code, 0);
  // Repair one hour of the first week: its daily and weekly windows are rebuilt from it.
  ASSERT_EQ(p.Derived({"source", "restate", "raw.events", "--from", "2024-01-03T10:00:00Z", "--to",
                       "2024-01-03T11:00:00Z"},
                      "2024-01-15T06:00:00Z")
                .exit_code,
            0);
  auto r = p.Derived({"lineage", "core.weekly", "--window", "2024-01-02", "--json"}, "2024-01-15T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto root = nlohmann::json::parse(r.out);
  EXPECT_EQ(root["table"], "core.weekly");
  EXPECT_EQ(root["operation"], "backfill");
  EXPECT_EQ(root["window_start"], "2024-01-01T00:00:00Z");
  ASSERT_EQ(root["inputs"].size(), 2u);  // the repaired day, then the rest of the week as first built
  EXPECT_EQ(root["inputs"][0]["table"], "core.daily");
  EXPECT_EQ(root["inputs"][0]["operation"], "backfill");
  EXPECT_EQ(root["inputs"][0]["window_start"], "2024-01-03T00:00:00Z");
  EXPECT_EQ(root["inputs"][1]["operation"], "create");
  EXPECT_EQ(root["inputs"][1]["window_start"], "2024-01-01T00:00:00Z");
  // Down to the hour that was restated and the source's completeness as read.
  const auto& hourly = root["inputs"][0]["inputs"][0];
  EXPECT_EQ(hourly["table"], "core.hourly");
  EXPECT_EQ(hourly["operation"], "backfill");
  EXPECT_EQ(hourly["window_start"], "2024-01-03T10:00:00Z");
  EXPECT_EQ(hourly["inputs"][0]["table"], "raw.events");
  EXPECT_EQ(hourly["inputs"][0]["complete_through"], "2024-01-15T00:00:00Z");

  r = p.Derived({"lineage", "core.weekly", "--window", "2023-06-01"}, "2024-01-15T06:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("core.weekly has no successful run covering 2023-06-01T00:00:00Z"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// The CLI points of the engine a user relies on: --select, DERIVED_NOW, query --file,
// log --limit.
TEST_P(EngineOn, SelectClockFileAndLimitOptions) {
  WarehouseProject p(GetParam());
  WriteChain(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-08"}).exit_code, 0);
  // Only hourly and what reads it downstream within the selection; the clock from the
  // environment, as the demo sets it.
  auto r = testing::RunDerived({"run", "--once", "--select", "core.hourly+", "--project", p.dir().str()},
                               {"DERIVED_NOW=2024-01-08T06:00:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    core.hourly"));
  EXPECT_THAT(r.out, HasSubstr("built    core.daily"));
  EXPECT_THAT(r.out, Not(HasSubstr("core.users")));
  EXPECT_EQ(Exists(p, "core", "users"), 0);
  EXPECT_EQ(p.Scalar("SELECT " + Cut("max(logical_now)", 1, 13) + " FROM _derived.log"), "2024-01-08 06");
  r = p.Derived({"run", "--once", "--select", "core.nope"}, "2024-01-08T06:00:00Z");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("error: selector 'core.nope' matches nothing"));

  p.Write("q.sql", "-- per table\nSELECT table_name, count(*) AS n FROM _derived.log GROUP BY 1 ORDER BY 1;\n");
  r = p.Derived({"query", "--file", (p.dir().path() / "q.sql").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly"));
  r = p.Derived({"query", "--file", (p.dir().path() / "missing.sql").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read"));
  r = p.Derived({"log", "--limit", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  EXPECT_EQ(p.Derived({"log", "--limit", "0"}).exit_code, 2);
}

// Completeness from a freshness query: a table waits for what the query reports.
TEST_P(EngineOn, FreshnessQueryGatesReaders) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/rates.yaml", R"(time_column: day
freshness: {query: "SELECT max(day) + INTERVAL '1 day' FROM raw.rates"}
columns:
  - {name: day, type: TIMESTAMP}
  - {name: rate, type: 'NUMERIC(18, 1)'}
)");
  p.Write("tables/core/rates.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: SELECT day, rate * 2 AS rate FROM raw.rates WHERE day >= {{ window_start }} AND day < {{ window_end }}
)");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.rates AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 day' AS "
      "day, "
      "CAST(i AS NUMERIC(18, 1)) AS rate FROM generate_series(0, 2) t(i)");
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.rates"), 3);
  p.Sql("INSERT INTO raw.rates VALUES (TIMESTAMP '2024-01-04', 3.0)");
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  EXPECT_EQ(p.Scalar("SELECT max(rate) FROM core.rates"), "6.0");
  auto status = p.Derived({"status"}, "2024-02-01");
  EXPECT_THAT(status.out, HasSubstr("waits for raw.rates (complete through 2024-01-05T00:00:00Z; needs "
                                    "2024-01-06T00:00:00Z)"));
}

// relationships and row_count fail the mutation too; cluster_by orders what is written
// and is kept in the table's state.
TEST_P(EngineOn, RelationshipAndRowCountTestsAndClustering) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/known.yaml",
          "schedule: daily\nsql: SELECT CAST(user_id AS BIGINT) AS user_id FROM generate_series(0, 4) "
          "t(user_id)\n");
  p.Write("tables/core/per_user.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
cluster_by: [user_id]
partition_by: [day]
tests:
  - relationships: {column: user_id, to: known}
  - row_count: {min: 1, max: 100}
sql: |
  SELECT date_trunc('day', ts) AS day, user_id, count(*) AS n FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1, 2
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-02"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-01-02T06:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  // Users 5 and 6 are not in core.known.
  EXPECT_THAT(r.out, HasSubstr("test 'relationships_user_id' failed: 2 offending rows"));
  EXPECT_EQ(Exists(p, "core", "per_user"), 0);

  p.Write("tables/core/known.yaml",
          "schedule: daily\nsql: SELECT CAST(user_id AS BIGINT) AS user_id FROM generate_series(0, 6) "
          "t(user_id)\n");
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-01-02T06:00:00Z").exit_code, 0);
  // Written in cluster order: the order of the rows as stored (DuckDB's rowid, PostgreSQL's ctid).
  EXPECT_EQ(p.Scalar(std::string("SELECT string_agg(user_id::VARCHAR, ',' ORDER BY ") +
                     (p.postgres() ? "ctid" : "rowid") + ") FROM core.per_user"),
            "0,1,2,3,4,5,6");
  EXPECT_EQ(p.Scalar("SELECT (config->'cluster_by')::VARCHAR || (config->'partition_by')::VARCHAR FROM "
                     "_derived.state WHERE table_name = 'core.per_user'"),
            R"(["user_id"]["day"])");

  // Ten more days would pass 100 rows (7 users a day): the row_count bound fails.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-20"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-01-20T06:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("test 'row_count' failed: the table has 133 rows, more than the maximum 100"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.per_user"), 7);
}

// Every log row says which commit of the project ran and whether the tree was dirty.
TEST_P(EngineOn, LogRecordsTheGitCommit) {
  WarehouseProject p(GetParam());
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Write(".gitignore", "warehouse.duckdb*\n.derived/\n");
  std::string git = "git -C " + p.dir().str() + " ";
  ASSERT_EQ(std::system((git + "init -q && " + git + "add -A && " + git +
                         "-c user.name=t -c user.email=t@t commit -qm init").c_str()),
            0);
  FILE* head = popen((git + "rev-parse HEAD").c_str(), "r");
  char sha[64] = {0};
  ASSERT_NE(fgets(sha, sizeof sha, head), nullptr);
  pclose(head);
  std::string commit = std::string(sha).substr(0, 40);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  EXPECT_EQ(p.Scalar("SELECT git_commit || ' ' || git_dirty FROM _derived.log"), commit + " false");
  p.Write("tables/core/daily.yaml", std::string(kDaily) + "\n");  // an uncommitted edit
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-04"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  EXPECT_EQ(p.Scalar("SELECT CAST(git_dirty AS VARCHAR) FROM _derived.log ORDER BY finished_at DESC LIMIT 1"),
            "true");
}

TEST_P(EngineOn, RemovedTablesKeepTheirDataUntilTheirRetentionEnds) {
  WarehouseProject p(GetParam());
  p.Configure("removed_tables: {keep_for: 3 days}\n");
  AddEvents(p);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Write("tables/core/extra.yaml", kDaily);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-01").exit_code, 0);
  const int64_t rows = p.Count("SELECT count(*) FROM core.extra");
  ASSERT_GT(rows, 0);
  auto exists = [&](const std::string& table) { return Exists(p, "core", table); };
  auto log_rows = [&](const std::string& table, const std::string& op) {
    return p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core." + table + "' AND operation = '" + op +
                   "'");
  };

  // Removed: recorded once, kept, and shown with the date it goes.
  std::remove((p.dir().str() + "/tables/core/extra.yaml").c_str());
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("removed  core.extra"));
  EXPECT_THAT(r.out, HasSubstr("until 2024-02-04T00:00:00Z"));
  r = p.Derived({"run", "--once"}, "2024-02-03T23:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("core.extra")));
  EXPECT_EQ(log_rows("extra", "removed"), 1);
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.extra"), rows);
  r = p.Derived({"status"}, "2024-02-03");
  EXPECT_THAT(r.out, HasSubstr("removed from the project on 2024-02-01T00:00:00Z"));
  r = p.Derived({"plan"}, "2024-02-03");
  EXPECT_THAT(r.out, HasSubstr("kept for 3 days (removed_tables.keep_for)"));

  // Its time is up: dropped, with the reason in the log; the state goes with it.
  r = p.Derived({"run", "--once"}, "2024-02-04");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("dropped  core.extra"));
  EXPECT_EQ(exists("extra"), 0);
  EXPECT_EQ(exists("daily"), 1);
  EXPECT_EQ(p.Scalar("SELECT rows_deleted || ' ' || (details->>'reason') FROM _derived.log WHERE table_name = "
                     "'core.extra' AND operation = 'drop'"),
            std::to_string(rows) +
                " removed from the project on 2024-02-01T00:00:00Z and kept for 3 days (removed_tables.keep_for)");
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.extra'"), 0);

  // A table defined again forgets its removal: a later removal starts a new clock.
  std::remove((p.dir().str() + "/tables/core/daily.yaml").c_str());
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-04").exit_code, 0);
  p.Write("tables/core/daily.yaml", kDaily);
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-05").exit_code, 0);
  EXPECT_EQ(
      p.Scalar("SELECT CAST(config->>'removed_at' IS NULL AS VARCHAR) FROM _derived.state WHERE table_name = "
               "'core.daily'"),
      "true");
  std::remove((p.dir().str() + "/tables/core/daily.yaml").c_str());
  ASSERT_EQ(p.Derived({"run", "--once"}, "2024-02-06").exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-02-08");
  EXPECT_THAT(r.out, Not(HasSubstr("dropped")));
  EXPECT_EQ(exists("daily"), 1);
  EXPECT_EQ(log_rows("daily", "removed"), 2);
  r = p.Derived({"run", "--once"}, "2024-02-09");
  EXPECT_THAT(r.out, HasSubstr("dropped  core.daily"));
  EXPECT_EQ(exists("daily"), 0);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, EngineOn, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
