// `derived query` tells the truth: every statement's result, JSON with SQL types, and
// nothing changed without --write. The real binary on a temporary warehouse of either
// engine; what the warehouse holds is checked directly (WarehouseProject::Scalar), never
// through the command under test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <future>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/app.h"
#include "engine_testing.h"
#include "service/service.h"
#include "time/clock.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(nlohmann::json::parse(out.substr(start, nl - start)));
  }
  return lines;
}

// Each test runs on both engines.
class QueryTest : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  void SetUp() override {
    p_.Sql("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT CAST(i AS BIGINT) AS a FROM generate_series(0, 2) t(i); "
           "CREATE SEQUENCE raw.seq");
  }
  std::string Path(const std::string& rel) const { return (p_.dir().path() / rel).string(); }
  WarehouseProject p_{GetParam()};
};

TEST_P(QueryTest, EveryStatementPrintsInOrder) {
  auto r = p_.Derived({"query", "SELECT 1 AS a; SELECT 'x' AS b UNION ALL SELECT 'y'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-- 1: SELECT 1 AS a\na\n1\n\n-- 2: SELECT 'x' AS b UNION ALL SELECT 'y'\nb\nx\ny\n");
  r = p_.Derived({"query", "--json", "SELECT 1 AS a; SELECT 'x' AS b UNION ALL SELECT 'y'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"statement\":1,\"row\":{\"a\":1}}\n{\"statement\":2,\"row\":{\"b\":\"x\"}}\n"
            "{\"statement\":2,\"row\":{\"b\":\"y\"}}\n");
  // One statement prints as it always did.
  r = p_.Derived({"query", "--json", "SELECT a FROM raw.t ORDER BY a"});
  EXPECT_EQ(r.out, "{\"a\":0}\n{\"a\":1}\n{\"a\":2}\n");
  // Split by the engine's parser: semicolons in strings and comments are not separators.
  r = p_.Derived({"query", "SELECT ';' AS s -- ; SELECT 2\n;"});
  EXPECT_EQ(r.out, "s\n;\n");
}

// DuckDB-only: DuckDB's types (HUGEINT, lists, STRUCT, MAP); PostgreSQL's are in
// PostgresQuery.ValuesKeepTheirTypesAndEveryDigit.
TEST(Query, JsonHasTheSqlTypes) {
  WarehouseProject p_;
  p_.Sql("CREATE SCHEMA raw");
  auto r = p_.Derived({"query", "--json",
                       "SELECT 42 AS i, -1.5::DOUBLE AS d, 2.50::DECIMAL(5,2) AS dec, "
                       "170141183460469231731687303715884105727::HUGEINT AS huge, true AS b, NULL AS n, 'x' AS s, "
                       "DATE '2024-01-03' AS day, TIMESTAMP '2024-01-03 10:00:00' AS ts, "
                       "TIMESTAMPTZ '2024-01-03 10:00:00+00' AS tz, [1, NULL] AS l, {'k': 'v', 'n': 1} AS st, "
                       "MAP {'a': 1} AS m, 'infinity'::DOUBLE AS inf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  const auto& row = lines[0];
  EXPECT_TRUE(row["i"].is_number_integer());
  EXPECT_EQ(row["i"], 42);
  EXPECT_EQ(row["d"], -1.5);
  EXPECT_TRUE(row["dec"].is_number());
  EXPECT_EQ(row["b"], true);
  EXPECT_TRUE(row["n"].is_null());
  EXPECT_EQ(row["s"], "x");
  EXPECT_EQ(row["day"], "2024-01-03");
  EXPECT_EQ(row["ts"], "2024-01-03T10:00:00");
  EXPECT_EQ(row["tz"], "2024-01-03T10:00:00Z");
  EXPECT_EQ(row["l"], nlohmann::json::parse("[1, null]"));
  EXPECT_EQ(row["st"], nlohmann::json::parse(R"({"k": "v", "n": 1})"));
  EXPECT_EQ(row["m"], nlohmann::json::parse(R"({"a": 1})"));
  EXPECT_EQ(row["inf"], "Infinity");
  // Exact digits, never rounded through a double.
  EXPECT_THAT(r.out, HasSubstr("\"dec\":2.50,"));
  EXPECT_THAT(r.out, HasSubstr("\"huge\":170141183460469231731687303715884105727,"));
}

TEST_P(QueryTest, NothingChangesWithoutWrite) {
  std::string file = Path("out.csv");
  std::string exported = Path("exported");
  std::vector<std::string> statements = {
      "SELECT 1; DROP TABLE raw.t",
      "WITH x AS (SELECT 9 AS a) INSERT INTO raw.t SELECT * FROM x",
      "DELETE FROM raw.t",
      "UPDATE raw.t SET a = 0",
      "CREATE TABLE raw.u (a INT)",
      "CREATE SCHEMA IF NOT EXISTS _derived; CREATE TABLE _derived.log (a INT)",
      "COPY (SELECT 1) TO '" + file + "'",
      "EXPLAIN ANALYZE DELETE FROM raw.t",
      "SELECT nextval('raw.seq')",
  };
  if (!p_.postgres()) {  // DuckDB's own ways to write (PostgreSQL's: PostgresQuery)
    statements.insert(statements.end(), {
                                            "EXPLAIN ANALYZE COPY (SELECT 1) TO '" + file + "'",
                                            "EXPORT DATABASE '" + exported + "'",
                                            "ATTACH '" + Path("other.duckdb") + "' AS other",
                                            "CALL checkpoint()",
                                            "SELECT * FROM force_checkpoint()",
                                            "PRAGMA enable_profiling",
                                            "SET threads = 1",
                                        });
  }
  for (const std::string& sql : statements) {
    auto r = p_.Derived({"query", sql});
    EXPECT_NE(r.exit_code, 0) << sql;
    if (r.exit_code == 2) {
      EXPECT_THAT(r.err, HasSubstr("nothing ran")) << sql;
      EXPECT_THAT(r.err, HasSubstr("--write")) << sql;
    }
    EXPECT_EQ(r.out, "") << sql;
    EXPECT_EQ(p_.Count("SELECT count(*) FROM raw.t WHERE a IN (0, 1, 2)"), 3) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(exported));
  EXPECT_FALSE(std::filesystem::exists(Path("other.duckdb")));
  EXPECT_EQ(
      p_.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('raw', '_derived', "
               "'main', 'public') AND table_name <> 't'"),
      0);
  // The READ ONLY transaction caught the one write no check could see.
  EXPECT_EQ(
      p_.Scalar(p_.postgres() ? "SELECT last_value FROM pg_sequences WHERE sequencename = 'seq'"
                              : "SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'seq'"),
      "NULL");
  // Nothing logged: no table in _derived (above). On DuckDB not even the schema; a
  // PostgreSQL warehouse is opened with the schema and its guard function in it.
  if (!p_.postgres()) {
    EXPECT_EQ(p_.Count("SELECT count(*) FROM information_schema.schemata WHERE schema_name = '_derived'"), 0)
        << "nothing logged";
  }
  // The refusal names the statement and what --write does.
  auto r = p_.Derived({"query", "SELECT 1; DROP TABLE raw.t"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("statement 2 (`DROP TABLE raw.t`) is a DROP statement"));
  EXPECT_THAT(r.err, HasSubstr("--write runs the SQL in one transaction and logs it in _derived.log"));
  if (p_.postgres()) return;  // the server reads no files of the client's
  // Reading local files is fine.
  p_.Write("in.csv", "a\n7\n");
  r = p_.Derived({"query", "SELECT a FROM read_csv('" + Path("in.csv") + "')"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\n7\n");
}

// DuckDB-only: only a DuckDB file can be missing (a server is there before the project).
TEST(Query, ReadingNeverCreatesTheWarehouse) {
  WarehouseProject p;
  auto r = p.Derived({"query", "SELECT 1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("there is no warehouse at"));
  EXPECT_FALSE(std::filesystem::exists(p.dir().path() / "warehouse.duckdb"));
}

TEST_P(QueryTest, TheSqlComesFromTheArgumentOrAFileNotBoth) {
  p_.Write("q.sql", "SELECT 1 AS a");
  auto r = p_.Derived({"query", "SELECT 2", "--file", Path("q.sql")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("excludes"));
  r = p_.Derived({"query", "--file", Path("q.sql")});
  EXPECT_EQ(r.out, "a\n1\n");
  EXPECT_EQ(p_.Derived({"query", "-- just a comment"}).exit_code, 2);
  EXPECT_EQ(p_.Derived({"query", "  "}).exit_code, 2);
}

TEST_P(QueryTest, WriteRunsOneTransactionAndLogsIt) {
  const std::string sql = "CREATE TABLE raw.u AS SELECT 1 AS a; INSERT INTO raw.u VALUES (2)";
  auto r = p_.Derived({"query", "--write", sql}, "2024-05-01T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p_.Scalar("SELECT string_agg(a::VARCHAR, ',' ORDER BY a) FROM raw.u"), "1,2");
  EXPECT_EQ(
      p_.Scalar("SELECT table_name || ' ' || operation || ' ' || status || ' ' || substr(CAST(logical_now AS "
                "VARCHAR), 1, 10) || ' ' || (details->>'statements') FROM _derived.log"),
      "_query query success 2024-05-01 2");
  EXPECT_EQ(p_.Scalar("SELECT details->>'sql' FROM _derived.log"), sql);

  // The log itself is not writable without --write.
  r = p_.Derived({"query", "DELETE FROM _derived.log"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(p_.Count("SELECT count(*) FROM _derived.log"), 1);

  // A failing statement rolls back the ones before it, and the failure is logged.
  r = p_.Derived({"query", "--write", "INSERT INTO raw.u VALUES (3); INSERT INTO raw.nope VALUES (4)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("statement 2 (`INSERT INTO raw.nope VALUES (4)`)"));
  EXPECT_THAT(r.err, HasSubstr("rolled back"));
  EXPECT_EQ(p_.Count("SELECT count(*) FROM raw.u"), 2);
  EXPECT_EQ(p_.Scalar("SELECT status || ' ' || (details->>'failed_statement') || ' ' || (error LIKE '%nope%') FROM "
                      "_derived.log WHERE status <> 'success'"),
            "failed 2 true");

  // Its own transaction: BEGIN and COMMIT are refused before anything runs, unlogged.
  r = p_.Derived({"query", "--write", "INSERT INTO raw.u VALUES (5); COMMIT"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot hold BEGIN, COMMIT or ROLLBACK"));
  EXPECT_EQ(p_.Count("SELECT count(*) FROM raw.u"), 2);
  EXPECT_EQ(p_.Count("SELECT count(*) FROM _derived.log"), 2);

  // --write from a file, as the service receives it too.
  p_.Write("w.sql", "-- a comment first\nINSERT INTO raw.u VALUES (6);\n");
  r = p_.Derived({"query", "--write", "--file", Path("w.sql")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p_.Count("SELECT count(*) FROM raw.u WHERE a = 6"), 1);
}

// A source complete through the end of its newest day, and a daily count of it.
const char* kEvents =
    "time_column: ts\nfreshness: {query: \"SELECT date_trunc('day', max(ts)) + INTERVAL '1 day' FROM "
    "raw.events\"}\n"
    "columns:\n  - {name: ts, type: TIMESTAMP}\n";
const char* kDaily =
    "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: SELECT date_trunc('day', ts) AS "
    "day, count(*) AS n FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1\n";

std::string Hours(const std::string& day) {
  return "INSERT INTO raw.events SELECT TIMESTAMP '" + day +
         "' + i * INTERVAL '1 hour' FROM generate_series(0, 23) t(i)";
}

void WriteEventsProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", kEvents);
  p.Write("tables/core/daily.yaml", kDaily);
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events (ts TIMESTAMP); " + Hours("2024-01-01") + "; " +
        Hours("2024-01-02"));
}

// Inside the service: a read runs even while a command holds the service; a write runs
// with the updaters paused, after which the service re-reads its sources (it would
// otherwise not poll them for a billion seconds) and the new day is built.
class QueryInServiceOn : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(QueryInServiceOn, ReadsRunBesideCommandsAndWritesPauseTheUpdaters) {
  WarehouseProject p(GetParam());
  WriteEventsProject(p);
  FixedClock clock(*ParseTimestamp("2024-01-10T00:00:00Z"));
  ServiceOptions o;
  o.project_dir = p.dir().str();
  o.clock = &clock;
  o.tick_seconds = 0;
  o.watch_seconds = 0;
  o.poll_seconds = 1e9;
  auto svc = Service::Start(o);
  ASSERT_TRUE(svc.ok()) << svc.error().message;
  (*svc)->WaitIdle();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--project", p.dir().str()});
    std::ostringstream out, err;
    int code = cli::RunCli(args, out, err, svc->get());
    return CommandResult{code, out.str(), err.str()};
  };
  EXPECT_EQ(run({"query", "SELECT count(*) AS n FROM core.daily"}).out, "n\n2\n");

  std::future<CommandResult> read;
  auto held = (*svc)->Exclusive([&] {
    read = std::async(std::launch::async, [&] { return run({"query", "SELECT count(*) AS n FROM raw.events"}); });
    ASSERT_EQ(read.wait_for(std::chrono::seconds(60)), std::future_status::ready)
        << "a read waited for the command holding the service";
  });
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(read.get().out, "n\n48\n");

  auto w = run({"query", "--write", Hours("2024-01-03")});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  (*svc)->WaitIdle();
  EXPECT_EQ(run({"query", "SELECT count(*) AS n FROM core.daily"}).out, "n\n3\n");
  EXPECT_EQ(run({"query", "SELECT operation, status FROM _derived.log WHERE table_name = '_query'"}).out,
            "operation  status\nquery      success\n");
  auto refused = run({"query", "DELETE FROM raw.events"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("nothing ran"));
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The CLI sends --write (and a query file's text) to the running service.
// DuckDB-only: commands go through the service only on an embedded warehouse (one writing
// process); on PostgreSQL each command opens the server itself.
TEST(QueryInService, TheClientForwardsWriteAndFiles) {
  WarehouseProject p;
  WriteEventsProject(p);
  Background service({"run", "--watch", "0", "--poll", "3600", "--project", p.dir().str()},
                     {"DERIVED_NOW=2024-01-10T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return service.Output().find("serving") != std::string::npos; }));
  auto r = p.Derived({"query", "SELECT count(*) AS n FROM raw.events"});
  EXPECT_EQ(r.out, "n\n48\n") << r.err;
  r = p.Derived({"query", "DELETE FROM raw.events"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("nothing ran"));
  p.Write("w.sql", Hours("2024-01-03") + ";\n");
  r = p.Derived({"query", "--write", "--file", (p.dir().path() / "w.sql").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Eventually([&] { return p.Scalar("SELECT count(*) FROM core.daily") == "3"; })) << service.Output();
  EXPECT_EQ(p.Scalar("SELECT count(*) FROM _derived.log WHERE table_name = '_query' AND status = 'success'"), "1");
  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait().exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, QueryTest, kBothEngines, EngineName);
INSTANTIATE_TEST_SUITE_P(BothEngines, QueryInServiceOn, kBothEngines, EngineName);

}  // namespace
}  // namespace derived::testing
