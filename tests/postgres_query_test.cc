// `derived query` on a real PostgreSQL server: what reads runs in a rolled-back READ ONLY
// transaction after every statement is checked, --write is one logged transaction, and
// results stream with their types. Expectations are checked with psql.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "postgres_testing.h"
#include "testing.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PostgresDatabase;
using testing::RunDerived;
using testing::TempDir;

class PostgresQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    dir_.Write("derived.yaml", fmt::format("name: q\nwarehouse: {{engine: postgres, dsn: \"host=127.0.0.1 port={} "
                                           "dbname={} user=postgres\"}}\n",
                                           testing::PostgresPort(), db_.name()));
    ASSERT_EQ(db_.Psql("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT i AS a FROM generate_series(1, 3) i; "
                       "CREATE FUNCTION raw.sneaky() RETURNS int LANGUAGE sql AS 'INSERT INTO raw.t VALUES (99) "
                       "RETURNING a'"),
              "");
  }

  testing::CommandResult Query(std::vector<std::string> args) {
    args.insert(args.begin(), "query");
    args.insert(args.end(), {"--project", dir_.str()});
    return RunDerived(args, {});
  }

  std::string Rows() const { return db_.Psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM raw.t"); }

  PostgresDatabase db_;
  TempDir dir_;
};

TEST_F(PostgresQuery, ValuesKeepTheirTypesAndEveryDigit) {
  auto r = Query({"--json",
                  "SELECT true AS b, 9223372036854775807::bigint AS i, 12345678901234567890.123456789::numeric AS n, "
                  "'NaN'::float8 AS d, '-Infinity'::numeric AS inf, TIMESTAMPTZ '2024-01-03 10:00:00+00' AS tz, "
                  "TIMESTAMP '2024-01-03 10:00:00.5' AS ts, DATE '2024-01-03' AS day, NULL::int AS z, ARRAY[1, 2] "
                  "AS arr, 'x\"y' AS s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"b\":true,\"i\":9223372036854775807,\"n\":12345678901234567890.123456789,\"d\":\"NaN\",\"inf\":"
            "\"-Infinity\",\"tz\":\"2024-01-03T10:00:00Z\",\"ts\":\"2024-01-03T10:00:00.5\",\"day\":\"2024-01-03\","
            "\"z\":null,\"arr\":\"{1,2}\",\"s\":\"x\\\"y\"}\n");
  auto text = Query({"SELECT a, a * 10 AS b FROM raw.t ORDER BY a"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "a  b\n1  10\n2  20\n3  30\n");
}

TEST_F(PostgresQuery, ALargeResultStreamsEveryRow) {
  auto r = Query({"--json", "SELECT i FROM generate_series(1, 200000) i"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  int64_t n = 0, sum = 0;
  for (std::string line; std::getline(lines, line);) {
    ++n;
    sum += nlohmann::json::parse(line)["i"].get<int64_t>();
  }
  EXPECT_EQ(n, 200000);
  EXPECT_EQ(std::to_string(sum), db_.Psql("SELECT sum(i) FROM generate_series(1, 200000) i"));
}

TEST_F(PostgresQuery, AnythingThatCouldWriteIsRefusedBeforeAnythingRuns) {
  for (const char* sql : {"DROP TABLE raw.t", "SELECT 1 AS x; DELETE FROM raw.t", "TRUNCATE raw.t",
                          "SELECT pg_terminate_backend(pg_backend_pid())", "EXPLAIN ANALYZE DELETE FROM raw.t",
                          "SELECT set_config('search_path', 'raw', false)", "COPY raw.t TO '/tmp/x'",
                          "CALL raw.p()", "DO $$ BEGIN DELETE FROM raw.t; END $$"}) {
    auto r = Query({sql});
    EXPECT_EQ(r.exit_code, 2) << sql << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("nothing ran")) << sql;
    EXPECT_EQ(r.out, "") << sql;
  }
  EXPECT_THAT(Query({"DROP TABLE raw.t"}).err, HasSubstr("is a DROP statement, which does more than read"));
  EXPECT_THAT(Query({"SELECT 1 AS x; DELETE FROM raw.t"}).err, HasSubstr("statement 2 (`DELETE FROM raw.t`)"));
  // What the checks cannot see, the server refuses: the transaction is READ ONLY.
  auto sneaky = Query({"SELECT raw.sneaky()"});
  EXPECT_EQ(sneaky.exit_code, 1);
  EXPECT_THAT(sneaky.err, HasSubstr("read-only transaction"));
  EXPECT_EQ(Rows(), "1,2,3");
}

TEST_F(PostgresQuery, StatementsSplitByPostgresLexicalRules) {
  auto r = Query({"--json", "SELECT E'a\\';b' AS s; SELECT $x$c;d$x$ AS t /* ; */; -- ;\nSHOW TimeZone"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"statement\":1,\"row\":{\"s\":\"a';b\"}}\n{\"statement\":2,\"row\":{\"t\":\"c;d\"}}\n"
            "{\"statement\":3,\"row\":{\"TimeZone\":\"UTC\"}}\n");
  auto plan = Query({"EXPLAIN SELECT * FROM raw.t"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("Seq Scan on t"));
  auto missing = Query({"SELECT 1 AS x; SELECT * FROM raw.nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("statement 2 (`SELECT * FROM raw.nope`): relation \"raw.nope\" does not exist"));
}

TEST_F(PostgresQuery, WriteIsOneLoggedTransaction) {
  auto r = Query({"--write", "CREATE TABLE raw.u AS SELECT 1 AS a; INSERT INTO raw.u VALUES (2), (3)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-- 1: CREATE TABLE raw.u AS SELECT 1 AS a\nCount\n1\n\n-- 2: INSERT INTO raw.u VALUES (2), (3)\n"
                   "Count\n2\n");
  EXPECT_EQ(db_.Psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM raw.u"), "1,2,3");
  EXPECT_EQ(db_.Psql("SELECT status, details->>'statements' FROM _derived.log WHERE table_name = '_query'"),
            "success|2");

  // A failure rolls every statement back and is logged after the rollback.
  auto failed = Query({"--write", "INSERT INTO raw.u VALUES (4); SELECT 1 / 0"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_THAT(failed.err, HasSubstr("statement 2 (`SELECT 1 / 0`): division by zero"));
  EXPECT_THAT(failed.err, HasSubstr("no statement's change was kept"));
  EXPECT_EQ(db_.Psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM raw.u"), "1,2,3");
  EXPECT_EQ(db_.Psql("SELECT status, details->>'failed_statement' FROM _derived.log WHERE table_name = '_query' "
                     "ORDER BY started_at DESC LIMIT 1"),
            "failed|2");

  for (const char* sql : {"BEGIN; DELETE FROM raw.u; COMMIT", "DELETE FROM raw.u; ROLLBACK",
                          "PREPARE TRANSACTION 'x'"}) {
    auto own = Query({"--write", sql});
    EXPECT_EQ(own.exit_code, 2) << sql;
    EXPECT_THAT(own.err, HasSubstr("cannot hold BEGIN, COMMIT or ROLLBACK")) << sql;
  }
  // COPY with the client's streams has nothing to read and nowhere to write: a clear
  // failure, never a hang.
  for (const char* sql : {"COPY raw.u FROM STDIN", "COPY raw.u TO STDOUT"}) {
    auto copy = Query({"--write", sql});
    EXPECT_EQ(copy.exit_code, 1) << sql;
    EXPECT_THAT(copy.err, HasSubstr("COPY ...")) << sql;
  }
  EXPECT_EQ(db_.Psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM raw.u"), "1,2,3");
}

}  // namespace
}  // namespace derived
