// The whole pipeline on a real PostgreSQL server: the `derived` binary builds every
// strategy into it, and the results are checked with psql against plain SQL over the
// raw data (tests/postgres_testing.h).
#include <csignal>
#include <functional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "postgres_testing.h"
#include "warehouse/postgres/typecheck.h"
#include "warehouse/postgres/warehouse.h"
#include "testing.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using testing::PostgresDatabase;
using testing::RunDerived;
using testing::TempDir;

// The orders every day of 2024-01-01..03 (a row every 37 minutes) and one project with
// each strategy reading them; the port comes from the environment, as a deployment's
// would.
void WriteShop(const TempDir& dir, const PostgresDatabase& db) {
  dir.Write("derived.yaml", "name: shop\nwarehouse: {engine: postgres, dsn: \"host=127.0.0.1 port=${SHOP_PG_PORT} dbname=" +
                                db.name() + " user=postgres\"}\ndefaults:\n  start: 2024-01-01\n");
  dir.Write("sources/raw/orders.yaml", R"(freshness: marker
time_column: ts
columns:
  - {name: order_id, type: BIGINT}
  - {name: user_id, type: BIGINT}
  - {name: amount, type: double precision}
  - {name: country, type: VARCHAR}
  - {name: ts, type: TIMESTAMP}
)");
  dir.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
time_column: day
columns:
  - {name: orders, type: BIGINT, description: Orders that day.}
sql: |
  SELECT date_trunc('day', ts) AS day, country, count(*) AS orders, sum(amount) AS revenue
  FROM raw.orders
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1, 2
)");
  dir.Write("tables/core/buyers.yaml", R"(schedule: daily
strategy: merge
time_column: last_order
merge: {keys: [user_id], rules: {first_order: min, last_order: max, orders: sum, amount: latest}}
sql: |
  SELECT user_id, min(ts) AS first_order, max(ts) AS last_order, count(*) AS orders,
         max(amount) AS amount
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)");
  dir.Write("tables/mart/totals.yaml", R"(schedule: daily
strategy: replace
description: Revenue per country.
cluster_by: [country]
sql: SELECT country, sum(revenue) AS revenue FROM core.daily GROUP BY 1
)");
  dir.Write("tables/mart/big_days.yaml", R"(strategy: view
sql: SELECT day, country FROM core.daily WHERE revenue > 1000
)");
}

class PostgresEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    port_env_ = "SHOP_PG_PORT=" + std::to_string(testing::PostgresPort());
    ASSERT_EQ(db_.Psql("CREATE SCHEMA raw; CREATE TABLE raw.orders (order_id BIGINT, user_id BIGINT, amount "
                       "DOUBLE PRECISION, country VARCHAR, ts TIMESTAMP); INSERT INTO raw.orders SELECT i, i % 7, i * "
                       "1.5, CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'de' END, TIMESTAMP '2024-01-01' + i * INTERVAL '37 "
                       "minutes' FROM generate_series(1, 200) i"),
              "");
    WriteShop(dir_, db_);
  }

  testing::CommandResult Derived(std::vector<std::string> args, const std::string& now = "") {
    args.insert(args.end(), {"--project", dir_.str()});
    std::vector<std::string> env = {port_env_};
    if (!now.empty()) env.push_back("DERIVED_NOW=" + now);
    return RunDerived(args, env);
  }

  // Rows in one query's result but not the other's, both ways: "0" when they are equal.
  std::string Difference(const std::string& a, const std::string& b) const {
    return db_.Psql("SELECT count(*) FROM ((" + a + " EXCEPT ALL " + b + ") UNION ALL (" + b + " EXCEPT ALL " + a +
                    ")) d");
  }

  // Another writer of `table`: takes its lock, commits a state of its own (one more data
  // version), and holds the lock until a process waits for it (at most 30 s). Returns
  // once it holds the lock; psql's output goes to *out.
  std::thread OtherWriter(const std::string& table, std::string* out) {
    const std::string this_db = "database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    std::thread holder([=, this] {
      *out = db_.Psql("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('derived.table:" + table +
                      "', 0)); UPDATE _derived.state SET data_version = data_version + 1 WHERE table_name = '" + table +
                      "'; DO $$ BEGIN FOR i IN 1..3000 LOOP EXIT WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = "
                      "'advisory' AND NOT granted AND " + this_db + "); PERFORM pg_sleep(0.01); END LOOP; END $$; COMMIT;");
    });
    for (int i = 0; i < 3000 && db_.Psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND " +
                                         this_db) != "1";
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return holder;
  }

  PostgresDatabase db_;
  TempDir dir_;
  std::string port_env_;
};

const char* kDaily =
    "SELECT date_trunc('day', ts), country, count(*), sum(amount) FROM raw.orders WHERE ts < '{}' GROUP BY 1, 2";

std::string DailyThrough(const std::string& end) {
  std::string q = kDaily;
  return q.replace(q.find("{}"), 2, end);
}

TEST_F(PostgresEngine, EveryStrategyBuildsIntoPostgresAndEqualsPlainSql) {
  auto v = Derived({"validate"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  // Processes starting at once on a new warehouse make its metadata schema one at a time.
  std::vector<std::thread> marks;
  std::vector<int> codes(4, -1);
  for (int i = 0; i < 4; ++i) {
    marks.emplace_back([&, i] { codes[i] = Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code; });
  }
  for (auto& t : marks) t.join();
  EXPECT_EQ(codes, std::vector<int>(4, 0));
  EXPECT_EQ(db_.Psql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = "
                     "'_derived'"),
            "leases_by_owner,leases_pkey,log_by_table,marks_by_source,project_versions_pkey,state_by_table");
  auto r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-03")), "0");
  EXPECT_EQ(Difference("SELECT user_id, first_order, last_order, orders FROM core.buyers",
                       "SELECT user_id, min(ts), max(ts), count(*) FROM raw.orders WHERE ts < '2024-01-03' GROUP BY 1"),
            "0");
  EXPECT_EQ(Difference("SELECT * FROM mart.totals",
                       "SELECT country, sum(amount) FROM raw.orders WHERE ts < '2024-01-03' GROUP BY 1"),
            "0");
  EXPECT_EQ(Difference("SELECT * FROM mart.big_days", "SELECT day, country FROM core.daily WHERE revenue > 1000"), "0");
  // Indexes: the merge keys (unique), an append table's time column.
  EXPECT_EQ(db_.Psql("SELECT string_agg(tablename || ':' || regexp_replace(indexdef, '^.* USING ', ''), ',' ORDER BY "
                     "tablename) FROM pg_indexes WHERE schemaname = 'core'"),
            "buyers:btree (user_id),daily:btree (day)");
  EXPECT_EQ(db_.Psql("SELECT indexdef LIKE 'CREATE UNIQUE%' FROM pg_indexes WHERE tablename = 'buyers'"), "t");
  // cluster_by: an index of its own, swapped in with the table.
  EXPECT_EQ(db_.Psql("SELECT regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes WHERE schemaname = 'mart'"),
            "btree (country)");
  // Comments, and the log and state in the same server.
  EXPECT_EQ(db_.Psql("SELECT obj_description('mart.totals'::regclass)"), "Revenue per country.");
  EXPECT_EQ(db_.Psql("SELECT col_description('core.daily'::regclass, 3)"), "Orders that day.");
  EXPECT_EQ(db_.Psql("SELECT string_agg(table_name || ':' || operation || ':' || status, ',' ORDER BY table_name) "
                     "FROM _derived.log"),
            "core.buyers:create:success,core.daily:create:success,mart.big_days:create:success,"
            "mart.totals:replace:success");
  EXPECT_EQ(db_.Psql("SELECT string_agg(table_name || '@' || complete_through, ',' ORDER BY table_name) FROM "
                     "_derived.state"),
            "core.buyers@2024-01-03 00:00:00,core.daily@2024-01-03 00:00:00,mart.big_days@2024-01-03 "
            "00:00:00,mart.totals@2024-01-03 00:00:00");

  // A day later: one more window each, the merge combining it into the keys it had.
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-04"}).exit_code, 0);
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-04")), "0");
  EXPECT_EQ(Difference("SELECT user_id, first_order, last_order, orders FROM core.buyers",
                       "SELECT user_id, min(ts), max(ts), count(*) FROM raw.orders WHERE ts < '2024-01-04' GROUP BY 1"),
            "0");
  EXPECT_EQ(Difference("SELECT * FROM mart.totals",
                       "SELECT country, sum(amount) FROM raw.orders WHERE ts < '2024-01-04' GROUP BY 1"),
            "0");

  // status, log and lineage read the metadata from the server.
  auto status = Derived({"status"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, ::testing::ContainsRegex("core.daily +append/daily +2024-01-04T00:00:00Z"));
  auto log = Derived({"log", "core.daily"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_THAT(log.out, HasSubstr("core.daily  append     2024-01-03T00:00:00Z  2024-01-04T00:00:00Z"));
  auto lineage = Derived({"lineage", "mart.totals", "--window", "2024-01-03"});
  EXPECT_EQ(lineage.exit_code, 0) << lineage.err;
  EXPECT_THAT(lineage.out, HasSubstr("core.daily"));

  // Nothing new: a run changes nothing, and writes no log row.
  std::string rows = db_.Psql("SELECT count(*) FROM _derived.log");
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log"), rows);
}

// partition_by: range partitions on the time column, one per day as windows arrive, a
// default for the rest; a rebuild's partitions take the table's name; `show` lists them.
TEST_F(PostgresEngine, PartitionByMakesRangePartitionsAsWindowsArrive) {
  auto with = [&](const std::string& file, const std::string& line) {
    std::string yaml = dir_.Read(file);
    dir_.Write(file, yaml.replace(yaml.find("sql:"), 4, line + "\nsql:"));
  };
  with("tables/core/daily.yaml", "partition_by: [day]");
  with("tables/core/buyers.yaml", "partition_by: [last_order]");
  ASSERT_EQ(Derived({"validate"}).exit_code, 0);
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  auto r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto parts = [&](const std::string& table) {
    return db_.Psql("SELECT string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), '; ' ORDER BY "
                    "c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '" +
                    table + "'::regclass");
  };
  EXPECT_EQ(parts("core.daily"),
            "daily__default DEFAULT; daily__p20240101 FOR VALUES FROM ('2024-01-01 00:00:00') TO ('2024-01-02 "
            "00:00:00'); daily__p20240102 FOR VALUES FROM ('2024-01-02 00:00:00') TO ('2024-01-03 00:00:00')");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM core.daily__default"), "0");
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-03")), "0");
  EXPECT_EQ(Difference("SELECT user_id, first_order, last_order, orders FROM core.buyers",
                       "SELECT user_id, min(ts), max(ts), count(*) FROM raw.orders WHERE ts < '2024-01-03' GROUP BY 1"),
            "0");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM core.buyers__default"), "0");
  auto show = Derived({"show", "core.daily"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("partitioned: RANGE (day), 2 range partitions and a default"));
  EXPECT_THAT(show.out, HasSubstr("index: CREATE INDEX"));

  // A changed definition rebuilds the table under another name, then swaps it in: its
  // partitions are named after the table again, and the next day goes on from there.
  std::string yaml = dir_.Read("tables/core/daily.yaml");
  dir_.Write("tables/core/daily.yaml", yaml.replace(yaml.find("sum(amount)"), 11, "sum(amount) + 0"));
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-04"}).exit_code, 0);
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(parts("core.daily"),
            "daily__default DEFAULT; daily__p20240101 FOR VALUES FROM ('2024-01-01 00:00:00') TO ('2024-01-02 "
            "00:00:00'); daily__p20240102 FOR VALUES FROM ('2024-01-02 00:00:00') TO ('2024-01-03 00:00:00'); "
            "daily__p20240103 FOR VALUES FROM ('2024-01-03 00:00:00') TO ('2024-01-04 00:00:00')");
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-04")), "0");
  EXPECT_EQ(Difference("SELECT user_id, first_order, last_order, orders FROM core.buyers",
                       "SELECT user_id, min(ts), max(ts), count(*) FROM raw.orders WHERE ts < '2024-01-04' GROUP BY 1"),
            "0");
}

// A rebuild that renames a column its own view reads: the view cannot be made again from
// its old query, so the swap leaves it to the view's updater, which makes it from the new
// definition in the same run. Another's view would stop the swap instead.
TEST_F(PostgresEngine, ARebuildThatChangesColumnsTheProjectsViewReadsRebuildsTheView) {
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(Derived({"run", "--once"}, "2024-01-03T00:00:00Z").exit_code, 0);
  std::string daily = dir_.Read("tables/core/daily.yaml");
  dir_.Write("tables/core/daily.yaml", daily.replace(daily.find("AS revenue"), 10, "AS total"));
  dir_.Write("tables/mart/big_days.yaml", "strategy: view\nsql: SELECT day, country FROM core.daily WHERE total > 1000\n");
  dir_.Write("tables/mart/totals.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT country, sum(total) AS "
                                        "revenue FROM core.daily GROUP BY 1\n");
  auto r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT * FROM mart.big_days", "SELECT date_trunc('day', ts), country FROM raw.orders WHERE ts < "
                                                      "'2024-01-03' GROUP BY 1, 2 HAVING sum(amount) > 1000"),
            "0");
  EXPECT_EQ(db_.Psql("SELECT string_agg(table_name || ':' || operation || ':' || status, ',' ORDER BY table_name) "
                     "FROM _derived.log WHERE run_id = (SELECT run_id FROM _derived.log ORDER BY finished_at DESC "
                     "LIMIT 1)"),
            "core.daily:rebuild:success,mart.big_days:rebuild:success,mart.totals:replace:success");

  // Someone else's view on the renamed column: the next rename stops, and nothing changes.
  ASSERT_EQ(db_.Psql("CREATE VIEW raw.theirs AS SELECT total FROM core.daily"), "");
  dir_.Write("tables/core/daily.yaml", daily.replace(daily.find("AS total"), 8, "AS amount_sum"));
  dir_.Write("tables/mart/big_days.yaml", "strategy: view\nsql: SELECT day, country FROM core.daily WHERE amount_sum > 1000\n");
  r = Derived({"run", "--once", "--select", "core.daily"}, "2024-01-03T00:00:00Z");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out + r.err, HasSubstr("the view raw.theirs reads"));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM raw.theirs") != "0", true);
  EXPECT_EQ(Difference("SELECT * FROM mart.big_days", "SELECT date_trunc('day', ts), country FROM raw.orders WHERE ts < "
                                                      "'2024-01-03' GROUP BY 1, 2 HAVING sum(amount) > 1000"),
            "0");
}

TEST_F(PostgresEngine, APartitionByOtherThanTheTimeColumnIsRefusedByValidate) {
  std::string yaml = dir_.Read("tables/core/daily.yaml");
  dir_.Write("tables/core/daily.yaml", yaml.replace(yaml.find("sql:"), 4, "partition_by: [country]\nsql:"));
  yaml = dir_.Read("tables/mart/totals.yaml");
  dir_.Write("tables/mart/totals.yaml", yaml.replace(yaml.find("sql:"), 4, "partition_by: [country]\nsql:"));
  auto v = Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.out + v.err, ::testing::ContainsRegex("tables/core/daily.yaml:[0-9]+:.*write partition_by: \\[day\\]"));
  EXPECT_THAT(v.out + v.err, ::testing::ContainsRegex("tables/mart/totals.yaml:[0-9]+:.*only append and merge"));
}

// PostgreSQL binds views to tables, so replacing a table that views read (Derived's own
// and anyone else's) must make them again on the new version, as they were; a view the
// new version cannot hold stops the swap and nothing changes.
TEST_F(PostgresEngine, ReplacingATableKeepsTheViewsThatReadIt) {
  dir_.Write("tables/mart/top.yaml", "strategy: view\nsql: SELECT country FROM mart.totals WHERE revenue > 0\n");
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  auto r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Someone else's views: one on the table, one on that view, with a comment and a grant.
  ASSERT_EQ(db_.Psql("CREATE ROLE reader_" + db_.name() + "; CREATE SCHEMA team; "
                     "CREATE VIEW team.fr AS SELECT revenue FROM mart.totals WHERE country = 'fr'; "
                     "CREATE VIEW team.fr_x2 AS SELECT revenue * 2 AS r2 FROM team.fr; "
                     "COMMENT ON VIEW team.fr IS 'French revenue'; GRANT SELECT ON team.fr TO reader_" +
                     db_.name() + "; GRANT SELECT ON mart.totals TO reader_" + db_.name() +
                     "; CREATE MATERIALIZED VIEW team.de AS SELECT revenue FROM mart.totals WHERE country = 'de'"),
            "");

  // New data: mart.totals is replaced, core.daily appended.
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-04"}).exit_code, 0);
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string fr = "SELECT sum(amount) FROM raw.orders WHERE ts < '2024-01-04' AND country = 'fr'";
  EXPECT_EQ(Difference("SELECT revenue FROM team.fr", fr), "0");
  EXPECT_EQ(Difference("SELECT r2 FROM team.fr_x2", "SELECT 2 * (" + fr + ")"), "0");
  EXPECT_EQ(Difference("SELECT * FROM mart.top", "SELECT country FROM mart.totals WHERE revenue > 0"), "0");
  EXPECT_EQ(db_.Psql("SELECT obj_description('team.fr'::regclass)"), "French revenue");
  EXPECT_EQ(db_.Psql("SELECT has_table_privilege('reader_" + db_.name() + "', 'team.fr', 'SELECT')"), "t");
  // The table keeps its own grants; a materialized view is filled again.
  EXPECT_EQ(db_.Psql("SELECT has_table_privilege('reader_" + db_.name() + "', 'mart.totals', 'SELECT')"), "t");
  EXPECT_EQ(Difference("SELECT revenue FROM team.de",
                       "SELECT sum(amount) FROM raw.orders WHERE ts < '2024-01-04' AND country = 'de'"),
            "0");

  // core.daily's definition changes: it is rebuilt and swapped in under mart.big_days.
  std::string daily = dir_.Read("tables/core/daily.yaml");
  dir_.Write("tables/core/daily.yaml", std::string(daily).replace(daily.find("count(*) AS orders"), 18,
                                                                   "count(order_id) AS orders"));
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT * FROM mart.big_days", "SELECT day, country FROM core.daily WHERE revenue > 1000"), "0");

  // A new version without the column the views read: Derived's own view would be made
  // again by its updater, but other people's cannot: refused, naming the first of them;
  // the old version and every view stay.
  std::string before = db_.Psql("SELECT count(*) FROM _derived.log WHERE status = 'success'");
  dir_.Write("tables/mart/totals.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT country, sum(revenue) AS "
                                        "total FROM core.daily GROUP BY 1\n");
  dir_.Write("tables/mart/top.yaml", "strategy: view\nsql: SELECT country FROM mart.totals WHERE total > 0\n");
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("the view team.de reads \"mart\".\"totals\" and does not fit its new version"));
  EXPECT_EQ(Difference("SELECT * FROM mart.top", "SELECT country FROM mart.totals WHERE revenue > 0"), "0");
  EXPECT_EQ(Difference("SELECT revenue FROM team.fr", fr), "0");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mart' AND "
                     "table_name = 'totals' AND column_name = 'revenue'"),
            "1");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log WHERE status = 'success'"), before);

  // Row-level security would be dropped by a swap: the table is not replaced.
  dir_.Write("tables/mart/totals.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT country, sum(revenue) AS "
                                        "revenue, 1 AS v FROM core.daily GROUP BY 1\n");
  dir_.Write("tables/mart/top.yaml", "strategy: view\nsql: SELECT country FROM mart.totals WHERE revenue > 0\n");
  ASSERT_EQ(db_.Psql("ALTER TABLE mart.totals ENABLE ROW LEVEL SECURITY"), "");
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("has row-level security, which a swap would drop"));
  (void)db_.Psql("DROP OWNED BY reader_" + db_.name() + "; DROP ROLE reader_" + db_.name());
}

// The guard function is trusted only when it is the one Derived made; SQL that would
// change the session under Derived's statements is refused at validate.
TEST_F(PostgresEngine, APlantedGuardFunctionAndSessionChangingSqlAreRefused) {
  ASSERT_EQ(db_.Psql("CREATE SCHEMA _derived; CREATE FUNCTION _derived.raise_error(message text) RETURNS boolean "
                     "LANGUAGE sql AS 'SELECT true'"),
            "");
  auto r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("_derived.raise_error(text) is not the function Derived made"));
  ASSERT_EQ(db_.Psql("DROP FUNCTION _derived.raise_error(text)"), "");

  dir_.Write("tables/mart/sneaky.yaml",
             "schedule: daily\nstrategy: replace\nsql: |\n  SELECT set_config('standard_conforming_strings', 'off', false) AS s\n");
  auto v = Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.out + v.err, HasSubstr("tables/mart/sneaky.yaml:4"));
  EXPECT_THAT(v.out + v.err, HasSubstr("calls set_config()"));
}

TEST_F(PostgresEngine, AnAppendRowOutsideItsWindowIsRefusedAndNothingIsWritten) {
  dir_.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
time_column: day
sql: SELECT date_trunc('day', ts) + INTERVAL '1 day' AS day, count(*) AS orders FROM raw.orders
     WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir_.Write("tables/mart/totals.yaml", "strategy: replace\nsql: SELECT sum(orders) AS orders FROM core.daily\n");
  dir_.Write("tables/mart/big_days.yaml", "strategy: view\nsql: SELECT day FROM core.daily\n");
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-02"}).exit_code, 0);
  auto r = Derived({"run", "--once"}, "2024-01-02T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("whose time_column 'day' is outside the window"));
  // The table it would have created rolled back with the rows.
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'core' AND tablename = 'daily'"), "0");
  EXPECT_EQ(db_.Psql("SELECT status FROM _derived.log WHERE table_name = 'core.daily'"), "failed");
}

TEST_F(PostgresEngine, AMergeKeyThatIsNullIsRefused) {
  dir_.Write("tables/core/buyers.yaml", R"(schedule: daily
strategy: merge
time_column: last_order
merge: {keys: [user_id]}
sql: SELECT NULLIF(user_id, 3) AS user_id, max(ts) AS last_order FROM raw.orders
     WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-02"}).exit_code, 0);
  auto r = Derived({"run", "--once"}, "2024-01-02T00:00:00Z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("returned 1 row(s) with a NULL merge key (user_id)"));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'core' AND tablename = 'buyers'"), "0");
}

TEST_F(PostgresEngine, APasswordInTheProjectIsRefusedAndAMissingVariableIsNamed) {
  dir_.Write("derived.yaml", "name: shop\nwarehouse: {engine: postgres, dsn: \"host=127.0.0.1 password=hunter2\"}\n");
  auto v = Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.err, HasSubstr("'dsn' must not hold a password"));
  EXPECT_THAT(v.err, ::testing::Not(HasSubstr("hunter2")));

  dir_.Write("derived.yaml", "name: shop\nwarehouse: {engine: postgres, dsn: \"host=127.0.0.1 password=${SHOP_PG_PW} "
                             "port=${SHOP_PG_PORT}\"}\n");
  auto r = RunDerived({"status", "--project", dir_.str()}, {});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the environment variable SHOP_PG_PW is not set"));
}

// However the password is spelled, it is found: after a line break, percent-encoded in
// a URI, or glued to a reference.
TEST_F(PostgresEngine, APasswordHiddenInTheConnectionStringIsRefusedToo) {
  for (const std::string dsn : {"host=127.0.0.1\\npassword=hunter2", "postgresql://127.0.0.1/shop?pass%77ord=hunter2",
                                "host=127.0.0.1 password=${SHOP_PG_PORT}hunter2",
                                "postgresql://u:hunter2@127.0.0.1/shop", "host=127.0.0.1 sslpassword=hunter2"}) {
    dir_.Write("derived.yaml", "name: shop\nwarehouse: {engine: postgres, dsn: \"" + dsn + "\"}\n");
    auto v = Derived({"validate"});
    EXPECT_NE(v.exit_code, 0) << dsn;
    EXPECT_THAT(v.err, HasSubstr("must not hold a password")) << dsn;
    EXPECT_THAT(v.out + v.err, ::testing::Not(HasSubstr("hunter2"))) << dsn;
  }
  // The library's own parse is the last word, whatever the loader's reading missed.
  for (const std::string dsn : {"host=127.0.0.1\npassword=hunter2", "postgresql://h/db?pass%77ord=hunter2",
                                "password = 'hunter2'", "sslpassword=hunter2"}) {
    auto options = PostgresConnectOptions(dsn);
    ASSERT_FALSE(options.ok()) << dsn;
    EXPECT_THAT(options.error().message, HasSubstr("must not hold a password")) << dsn;
  }
}

// An environment variable's value is one option's value, never more options.
TEST_F(PostgresEngine, AnEnvironmentValueCannotAddConnectionOptions) {
  setenv("SHOP_PG_DB", "nowhere host=192.0.2.1 port=1", 1);
  auto options = PostgresConnectOptions("host=127.0.0.1 dbname=${SHOP_PG_DB}");
  ASSERT_TRUE(options.ok()) << options.error().message;
  ASSERT_NE(options->Find("dbname"), nullptr);
  EXPECT_EQ(*options->Find("dbname"), "nowhere host=192.0.2.1 port=1");
  EXPECT_EQ(*options->Find("host"), "127.0.0.1");
  EXPECT_EQ(*options->Find("connect_timeout"), "10");  // a default a long-running client needs
  unsetenv("SHOP_PG_DB");
}

TEST_F(PostgresEngine, AFileSourceIsRefusedByValidateWithItsFileAndLine) {
  dir_.Write("sources/landing/clicks.yaml", "freshness: static\nlocation: landing/*.csv\ncolumns:\n  - {name: id, type: BIGINT}\n");
  auto v = Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.out + v.err, HasSubstr("sources/landing/clicks.yaml:2:"));
  EXPECT_THAT(v.out + v.err, HasSubstr("only a DuckDB warehouse can do"));
}

// Two writers of one table: another process holds the table's lock and commits a new
// state for it while this one has planned its windows. This one waits for the lock, sees
// that its plan is stale, and writes nothing: never a window twice, never a stale state.
TEST_F(PostgresEngine, AWriterWhosePlanWentStaleWaitsForTheLockAndWritesNothing) {
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-02"}).exit_code, 0);
  ASSERT_EQ(Derived({"run", "--once"}, "2024-01-02T00:00:00Z").exit_code, 0);
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  std::string rows = db_.Psql("SELECT count(*) FROM core.daily");
  std::string logged = db_.Psql("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily'");

  std::string other;
  std::thread holder = OtherWriter("core.daily", &other);
  auto r = Derived({"run", "--once", "--select", "core.daily"}, "2024-01-03T00:00:00Z");
  holder.join();
  EXPECT_THAT(other, ::testing::Not(HasSubstr("ERROR")));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // not a failure of the table
  EXPECT_THAT(r.out, HasSubstr("superseded core.daily"));
  EXPECT_THAT(r.out, HasSubstr("another process updated core.daily while this one was about to"));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM core.daily"), rows);
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily'"), logged);

  // The next run plans from the committed state and builds the window once.
  r = Derived({"run", "--once"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-03")), "0");
}

// The type-check binds in PostgreSQL itself: DuckDB-only SQL fails validate at its file
// and line, PostgreSQL-only functions pass, and a query only PostgreSQL can parse is
// explained. Nothing is left in the warehouse by the check.
// A failure is recorded against the state it was seen with: when another process has
// committed a newer one meanwhile, the failure is logged and the newer state is kept.
TEST_F(PostgresEngine, AFailureNeverOverwritesAnotherProcesssNewerState) {
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-02"}).exit_code, 0);
  ASSERT_EQ(Derived({"run", "--once"}, "2024-01-02T00:00:00Z").exit_code, 0);
  std::string version = db_.Psql("SELECT data_version + 1 FROM _derived.state WHERE table_name = 'core.daily'");
  // core.daily no longer type-checks: this run records it as failed (broken definition).
  std::string daily = dir_.Read("tables/core/daily.yaml");
  dir_.Write("tables/core/daily.yaml", daily.replace(daily.find("sum(amount)"), 11, "sum(no_such_column)"));
  std::string other;
  std::thread holder = OtherWriter("core.daily", &other);
  auto r = Derived({"run", "--once", "--select", "core.daily"}, "2024-01-03T00:00:00Z");
  holder.join();
  EXPECT_THAT(other, ::testing::Not(HasSubstr("ERROR")));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT data_version || ':' || last_status || ':' || consecutive_failures FROM _derived.state "
                     "WHERE table_name = 'core.daily'"),
            version + ":success:0");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND status = 'failed'"), "1");
}

// Merge rules over the types PostgreSQL aggregates differently: arrays, json and
// jsonb (latest, earliest, coalesce) and booleans (min, max).
TEST_F(PostgresEngine, MergeRulesWorkForArraysJsonAndBooleans) {
  ASSERT_EQ(db_.Psql("CREATE TABLE raw.events AS SELECT i % 5 AS user_id, TIMESTAMP '2024-01-01' + i * INTERVAL "
                     "'2 hours' AS ts, ARRAY['t' || i, 'u'] AS tags, json_build_object('i', i) AS props, "
                     "jsonb_build_object('j', i) AS propsb, (i % 3 = 0) AS flag, CASE WHEN i % 4 = 0 THEN NULL ELSE "
                     "ARRAY[i] END AS maybe FROM generate_series(1, 40) i"),
            "");
  dir_.Write("sources/raw/events.yaml", "freshness: marker\ntime_column: ts\n");
  dir_.Write("tables/core/profiles.yaml", R"(schedule: daily
strategy: merge
time_column: ts
merge: {keys: [user_id], rules: {ts: max, tags: latest, props: latest, propsb: earliest, any_flag: max, all_flag: min, maybe: coalesce}}
sql: |
  SELECT user_id, ts, tags, props, propsb, flag AS any_flag, flag AS all_flag, maybe
  FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
)");
  ASSERT_EQ(Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  auto r = Derived({"run", "--once", "--select", "core.profiles"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto expected = [](const std::string& end) {
    return "SELECT user_id, max(ts), (array_agg(tags::text ORDER BY ts DESC))[1], (array_agg(props::text ORDER BY ts "
           "DESC))[1], (array_agg(propsb::text ORDER BY ts))[1], bool_or(flag), bool_and(flag), (array_agg(maybe::text "
           "ORDER BY ts) FILTER (WHERE maybe IS NOT NULL))[1] FROM raw.events WHERE ts < '" + end + "' GROUP BY 1";
  };
  const std::string built = "SELECT user_id, ts, tags::text, props::text, propsb::text, any_flag, all_flag, "
                            "maybe::text FROM core.profiles";
  EXPECT_EQ(Difference(built, expected("2024-01-03")), "0");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM core.profiles"), "5");
  // The next day is combined with the rows the keys have (MergeExpression).
  ASSERT_EQ(Derived({"source", "mark", "raw.events", "--through", "2024-01-04"}).exit_code, 0);
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-04"}).exit_code, 0);
  r = Derived({"run", "--once", "--select", "core.profiles"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference(built, expected("2024-01-04")), "0");
}

// Derived's names are case-insensitive; PostgreSQL keeps a quoted name's case. A query
// returning one is refused at validate with its file and the way out; read under a
// lower-case name, the column builds.
TEST_F(PostgresEngine, AQuotedUpperCaseColumnIsRefusedWithTheWayOut) {
  ASSERT_EQ(db_.Psql("CREATE TABLE raw.clicks AS SELECT i AS \"UserId\", TIMESTAMP '2024-01-01' + i * INTERVAL "
                     "'1 hour' AS ts FROM generate_series(1, 30) i"),
            "");
  dir_.Write("sources/raw/clicks.yaml", "freshness: marker\ntime_column: ts\ncolumns:\n  - {name: UserId, type: "
                                        "BIGINT}\n  - {name: ts, type: TIMESTAMP}\n");
  const std::string table = R"(schedule: daily
strategy: merge
time_column: ts
merge: {keys: [user_id]}
sql: SELECT "UserId"{} , ts FROM raw.clicks WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
)";
  auto with = [&](const std::string& alias) { return std::string(table).replace(table.find("{}"), 2, alias); };
  dir_.Write("tables/core/clicks.yaml", with(""));
  auto v = Derived({"validate"});
  EXPECT_NE(v.exit_code, 0);
  EXPECT_THAT(v.out + v.err, HasSubstr("tables/core/clicks.yaml:5"));
  EXPECT_THAT(v.out + v.err, HasSubstr("returns a column \"UserId\" with upper-case letters: on PostgreSQL give it "
                                       "a lower-case name (AS userid)"));
  dir_.Write("tables/core/clicks.yaml", with(" AS user_id"));
  ASSERT_EQ(Derived({"source", "mark", "raw.clicks", "--through", "2024-01-03"}).exit_code, 0);
  auto r = Derived({"run", "--once", "--select", "core.clicks"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT user_id, ts FROM core.clicks", "SELECT \"UserId\", ts FROM raw.clicks WHERE ts < "
                                                               "'2024-01-03'"),
            "0");
}

// One project, two engines: a template can spell what they spell apart.
TEST_F(PostgresEngine, TemplatesBranchOnTheTargetEngine) {
  dir_.Write("tables/mart/spelled.yaml", R"(schedule: daily
strategy: replace
sql: |
  SELECT {% if target.engine == 'postgres' %}string_agg(country, ',' ORDER BY country){% else %}string_agg(country, ',' ORDER BY country) FILTER (WHERE false){% endif %} AS countries
  FROM (SELECT DISTINCT country FROM raw.orders) AS c
)");
  ASSERT_EQ(Derived({"validate"}).exit_code, 0);
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  auto r = Derived({"run", "--once", "--select", "mart.spelled"}, "2024-01-03T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT countries FROM mart.spelled"), "de,fr");
}

// The long-running service on a shared server: it builds as marks arrive from other
// processes, and carries on when the server cuts every one of its connections.
TEST_F(PostgresEngine, TheServiceBuildsAsMarksArriveAndSurvivesCutConnections) {
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-02"}).exit_code, 0);
  testing::Background service({"run", "--poll", "0.2", "--project", dir_.str()},
                              {port_env_, "DERIVED_NOW=2024-01-03T00:00:00Z"});
  auto eventually = [](const std::function<bool()>& done) {
    for (int i = 0; i < 600; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] { return Difference("SELECT * FROM core.daily", DailyThrough("2024-01-02")) == "0"; }))
      << service.Output() << service.Errors();
  // Every connection of the service is cut, as a server restart or failover would.
  std::string cut = db_.Psql(
      "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity WHERE application_name = 'derived' AND "
      "datname = current_database()");
  EXPECT_EQ(cut, "t");
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] {
    return Difference("SELECT * FROM core.daily", DailyThrough("2024-01-03")) == "0" &&
           Difference("SELECT * FROM mart.totals",
                      "SELECT country, sum(amount) FROM raw.orders WHERE ts < '2024-01-03' GROUP BY 1") == "0";
  })) << service.Output() << service.Errors();
  service.Signal(SIGTERM);
  auto done = service.Wait();
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  // Each window once.
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM (SELECT window_start FROM _derived.log WHERE table_name = 'core.daily' AND "
                     "status = 'success' AND window_start IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d"),
            "0");
}

// run --once SIGKILLed at random moments, day after day: the server rolls back what a
// dead client had not committed, and the next run goes on from the committed state;
// every table equals plain SQL and each window is applied once.
TEST_F(PostgresEngine, RunOnceKilledAtRandomMomentsLeavesNoTrace) {
  std::mt19937 rng(20241203);
  int killed = 0;
  for (int day = 2; day <= 6; ++day) {
    const std::string through = fmt::format("2024-01-{:02d}", day);
    const std::string now = through + "T00:00:00Z";
    ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", through}).exit_code, 0);
    for (int k = 0; k < 3; ++k) {
      auto after = std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 300)(rng));
      killed += testing::RunDerivedAndKill({"run", "--once", "--project", dir_.str()}, after,
                                           {port_env_, "DERIVED_NOW=" + now});
    }
    auto r = Derived({"run", "--once"}, now);
    ASSERT_EQ(r.exit_code, 0) << through << "\n" << r.out << r.err;
    EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough(through)), "0") << through;
    EXPECT_EQ(Difference("SELECT user_id, first_order, last_order, orders FROM core.buyers",
                         "SELECT user_id, min(ts), max(ts), count(*) FROM raw.orders WHERE ts < '" + through +
                             "' GROUP BY 1"),
              "0")
        << through;
    EXPECT_EQ(Difference("SELECT * FROM mart.totals",
                         "SELECT country, sum(amount) FROM raw.orders WHERE ts < '" + through + "' GROUP BY 1"),
              "0")
        << through;
  }
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM (SELECT table_name, window_start FROM _derived.log WHERE status = "
                     "'success' AND window_start IS NOT NULL AND operation IN ('create', 'append', 'merge') GROUP BY "
                     "1, 2 HAVING count(*) > 1) d"),
            "0");
  std::printf("run --once on PostgreSQL: %d of 15 runs killed\n", killed);
}

// A session whose server connection is cut (pg_terminate_backend, as a restart or a
// failover would) fails the transaction it was in, then carries on with a new
// connection, in the dataset it was using.
TEST(PostgresWarehouseSession, ALostConnectionIsMadeAgainOutsideATransaction) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  ASSERT_EQ(db.Psql("CREATE SCHEMA core; CREATE TABLE core.t AS SELECT 1 AS a"), "");
  auto options = PostgresConnectOptions(db.dsn());
  ASSERT_TRUE(options.ok()) << options.error().message;
  auto wh = OpenPostgresWarehouse(*options);
  ASSERT_TRUE(wh.ok()) << wh.error().message;
  Warehouse& w = **wh;
  ASSERT_TRUE(w.UseDataset("core").ok());
  auto pid = [&] {
    auto r = w.Query("SELECT pg_backend_pid()");
    return r.ok() ? r->at(0, 0).value_or("") : "";
  };
  std::string first = pid();
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(w.Begin().ok());
  ASSERT_TRUE(w.Execute("INSERT INTO t VALUES (2)").ok());
  EXPECT_EQ(db.Psql("SELECT pg_terminate_backend(" + first + ")"), "t");
  // In the transaction: it is gone, and says so, until the rollback.
  EXPECT_FALSE(w.Execute("INSERT INTO t VALUES (3)").ok());
  EXPECT_FALSE(w.Commit().ok());
  EXPECT_TRUE(w.Rollback().ok());
  // After it: a new connection, the same dataset, nothing of the lost transaction.
  auto rows = w.Query("SELECT count(*), current_schema() FROM t");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->at(0, 0).value_or("?"), "1");
  EXPECT_EQ(rows->at(0, 1).value_or("?"), "core");
  EXPECT_NE(pid(), first);
  EXPECT_EQ(db.Psql("SELECT count(*) FROM core.t"), "1");
  // Cut while idle: the next transaction starts on a new connection, no failure seen.
  std::string second = pid();
  EXPECT_EQ(db.Psql("SELECT pg_terminate_backend(" + second + ")"), "t");
  ASSERT_TRUE(w.Begin().ok());
  ASSERT_TRUE(w.Execute("INSERT INTO t VALUES (4)").ok());
  ASSERT_TRUE(w.Commit().ok());
  EXPECT_EQ(db.Psql("SELECT count(*) FROM core.t"), "2");

  // A dataset chosen inside a transaction stays chosen after its rollback (which undoes
  // the SET under it).
  ASSERT_EQ(db.Psql("CREATE SCHEMA mart"), "");
  ASSERT_TRUE(w.Begin().ok());
  ASSERT_TRUE(w.UseDataset("mart").ok());
  ASSERT_TRUE(w.Rollback().ok());
  rows = w.Query("SELECT current_schema()");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->at(0, 0).value_or("?"), "mart");
}

// A backfill superseded by another process's commit is planned again from that state
// and written once; it is never reported done without being written.
TEST_F(PostgresEngine, ASupersededBackfillIsPlannedAgainAndWritten) {
  ASSERT_EQ(Derived({"source", "mark", "raw.orders", "--through", "2024-01-03"}).exit_code, 0);
  ASSERT_EQ(Derived({"run", "--once"}, "2024-01-03T00:00:00Z").exit_code, 0);
  ASSERT_EQ(db_.Psql("UPDATE raw.orders SET amount = amount + 1 WHERE ts < '2024-01-02'"), "");
  std::string other;
  std::thread holder = OtherWriter("core.daily", &other);
  auto r = Derived({"backfill", "core.daily", "--from", "2024-01-01", "--to", "2024-01-02"}, "2024-01-03T00:00:00Z");
  holder.join();
  EXPECT_THAT(other, ::testing::Not(HasSubstr("ERROR")));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyThrough("2024-01-03")), "0");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND operation = 'backfill'"),
            "1");
}

TEST_F(PostgresEngine, ValidateBindsEveryQueryInPostgres) {
  dir_.Write("tables/core/duck.yaml", R"(schedule: daily
strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day,
         list_value(1, 2) AS l
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir_.Write("tables/core/all.yaml", R"(schedule: daily
strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS n
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY ALL
)");
  dir_.Write("tables/core/xml.yaml", "schedule: daily\nstrategy: replace\nsql: |\n  SELECT xmlelement(name o, order_id) AS x\n  FROM raw.orders\n");
  auto v = Derived({"validate"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.out + v.err, HasSubstr("tables/core/duck.yaml:6:10: error: type-check failed: function list_value(integer, "
                                       "integer) does not exist"));
  EXPECT_THAT(v.out + v.err, HasSubstr("tables/core/all.yaml:7:"));
  EXPECT_THAT(v.out + v.err, HasSubstr("tables/core/xml.yaml:4:"));
  EXPECT_THAT(v.out + v.err, HasSubstr("PostgreSQL accepts this query, but Derived finds what every query reads with "
                                       "DuckDB's parser"));

  // PostgreSQL's own functions, and its type names in declarations.
  dir_.Write("tables/core/duck.yaml", R"(schedule: daily
strategy: append
time_column: day
columns:
  - {name: n, type: int8}
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS n, to_char(max(ts), 'YYYY') AS y
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir_.Write("tables/core/all.yaml", R"(strategy: view
sql: SELECT day, n FROM core.duck
)");
  dir_.Write("tables/core/xml.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT count(*) AS n FROM core.duck\n");
  v = Derived({"validate"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // The check's tables and schemas were never committed.
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_namespace WHERE nspname IN ('core', 'mart')"), "0");
}

TEST(PostgresTypes, FitsFollowPostgresNames) {
  EXPECT_TRUE(PostgresTypeFits("bigint", "integer"));
  EXPECT_TRUE(PostgresTypeFits("numeric", "bigint"));
  EXPECT_FALSE(PostgresTypeFits("integer", "bigint"));
  EXPECT_TRUE(PostgresTypeFits("double precision", "real"));
  EXPECT_FALSE(PostgresTypeFits("real", "double precision"));
  EXPECT_TRUE(PostgresTypeFits("text", "character varying"));
  EXPECT_FALSE(PostgresTypeFits("character varying(3)", "text"));
  EXPECT_TRUE(PostgresTypeFits("character varying(3)", "character varying(3)"));
  EXPECT_TRUE(PostgresTypeFits("timestamp without time zone", "date"));
  EXPECT_FALSE(PostgresTypeFits("date", "timestamp without time zone"));
  EXPECT_FALSE(PostgresTypeFits("bigint", "text"));
}

}  // namespace
}  // namespace derived
