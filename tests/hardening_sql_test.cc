// Regression tests for issue 10's findings on user SQL and the engine, named after them,
// through the real binary on real projects. No test tries the network: that INSTALL or an
// https:// read could not reach it is shown by the engine's settings and by Derived
// refusing the statement before DuckDB sees it, never by attempting it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine_testing.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Finding 1's text: pasted into "SELECT count(*) FROM (\n" + sql + "\n) AS offending" it
// closed the subquery, dropped a source and opened another subquery for the rest.
const char* kDropInjection =
    "SELECT 1 AS a WHERE false) AS x; DROP TABLE raw.users; SELECT * FROM (SELECT 1 AS a WHERE false";

// raw.users (a warehouse table, five rows) and another team's table built from it.
void UsersAndAnotherTeamsTable(WarehouseProject& p) {
  p.Write("sources/raw/users.yaml", "freshness: static\ncolumns: [{name: id, type: BIGINT}]\n");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.users AS SELECT CAST(i AS BIGINT) AS id FROM generate_series(0, "
      "4) t(i)");
  p.Write("tables/other/keep.yaml", "owner: another-team\nschedule: daily\nstrategy: replace\nstart: 2024-01-01\n"
                                    "sql: SELECT id FROM raw.users\n");
  auto r = p.Derived({"run", "--once"}, "2024-01-04");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(p.Count("SELECT count(*) FROM other.keep"), 5);
}

// The source and the other team's table as they were; with `unbuilt`, no table of ours.
void ExpectUntouched(const WarehouseProject& p, const std::string& what, bool unbuilt = true) {
  EXPECT_EQ(p.Count("SELECT count(*) FROM raw.users"), 5) << what;
  EXPECT_EQ(p.Count("SELECT count(*) FROM other.keep"), 5) << what;
  if (unbuilt) {
    EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'core'"), 0) << what;
  }
}

// An append table with one custom test, whose SQL (a block scalar) is line 11.
std::string TableWithTest(const std::string& sql) {
  return "schedule: daily\n"                                                         // 1
         "strategy: append\n"                                                        // 2
         "start: 2024-01-01\n"                                                       // 3
         "time_column: day\n"                                                        // 4
         "sql: |\n"                                                                  // 5
         "  SELECT CAST({{ window_start }} AS DATE) AS day, id FROM raw.users\n"     // 6
         "  WHERE {{ window_start }} = TIMESTAMP '2024-01-01'\n"                     // 7
         "tests:\n"                                                                  // 8
         "  - name: evil\n"                                                          // 9
         "    sql: |\n"                                                              // 10
         "      " + sql + "\n";                                                      // 11
}

// The findings on SQL Derived runs itself, on both engines.
class HardeningSql : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(HardeningSql, DataTestSqlCannotRunStatements) {
  WarehouseProject p(GetParam());
  UsersAndAnotherTeamsTable(p);

  // The finding's own text: validate names the file and line, run --once refuses it.
  p.Write("tables/core/t.yaml", TableWithTest(kDropInjection));
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/t.yaml:11:"));
  EXPECT_THAT(r.err, HasSubstr("custom test 'evil': invalid SQL: syntax error"));
  r = p.Derived({"run", "--once"}, "2024-01-04");
  EXPECT_NE(r.exit_code, 0) << r.out;
  ExpectUntouched(p, "drop");

  // The same place with COPY ... TO writes no file.
  const std::string leak = (p.dir().path() / "leak.csv").string();
  p.Write("tables/core/t.yaml",
          TableWithTest("SELECT 1 AS a WHERE false) AS x; COPY raw.users TO '" + leak +
                        "'; SELECT * FROM (SELECT 1 AS a WHERE false"));
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/t.yaml:11:"));
  r = p.Derived({"run", "--once"}, "2024-01-04");
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_FALSE(std::filesystem::exists(leak));
  ExpectUntouched(p, "copy");

  // validate renders a test for the table's first window only; a template that writes the
  // statements for other windows passes it. The run checks what it renders before it runs
  // it, so nothing runs: the build fails and is rolled back.
  const std::string first_window = "{% if window_end == \"TIMESTAMP '2024-01-02 00:00:00'\" %}";
  p.Write("tables/core/t.yaml", TableWithTest(first_window + "SELECT * FROM {{ this }} WHERE false{% else %}" +
                                              kDropInjection + "{% endif %}"));
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = p.Derived({"run", "--once"}, "2024-01-04");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/t.yaml:9:5: test 'evil' could not run: its SQL as rendered for "
                                       "this run is not one SELECT: syntax error"));
  ExpectUntouched(p, "a later window's test", /*unbuilt=*/false);
  std::filesystem::remove(p.dir().path() / "tables/core/t.yaml");

  // The same for the table's own SQL, which the run refuses at its template's line.
  p.Write("tables/core/u.yaml",
          "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: |\n"  // 1-5
          "  " + first_window + "\n"                                                             // 6
          "  SELECT DATE '2024-01-01' AS day WHERE false\n"                                      // 7
          "  {% else %}\n"                                                                       // 8
          "  SELECT DATE '2024-01-01' AS day WHERE false; DROP TABLE raw.users; SELECT 1\n"      // 9
          "  {% endif %}\n");                                                                    // 10
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = p.Derived({"run", "--once"}, "2024-01-04");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/u.yaml:6: the query was not run: the SQL must be one SELECT "
                                       "statement"));
  ExpectUntouched(p, "a later window's table SQL", /*unbuilt=*/false);
}

TEST_P(HardeningSql, FreshnessQueryCannotRunStatements) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/users.yaml", "freshness: static\ncolumns: [{name: id, type: BIGINT}]\n");
  p.Write("sources/raw/platform_aliases.yaml",
          "freshness: {query: 'SELECT max(updated_at) FROM raw.platform_aliases'}\n"
          "columns: [{name: updated_at, type: TIMESTAMP}]\n");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.users AS SELECT CAST(i AS BIGINT) AS id FROM generate_series(0, "
      "4) t(i); "
      "CREATE TABLE raw.platform_aliases AS SELECT TIMESTAMP '2024-01-03' AS updated_at");
  p.Write("tables/core/signups.yaml", "schedule: daily\nstrategy: replace\nstart: 2024-01-01\n"
                                      "sql: SELECT id FROM raw.users\n");
  p.Write("tables/core/aliases.yaml", "schedule: daily\nstrategy: replace\nstart: 2024-01-01\n"
                                      "sql: SELECT max(updated_at) AS newest FROM raw.platform_aliases\n");
  // A freshness query that is one SELECT works as before.
  auto r = p.Derived({"run", "--once"}, "2024-01-04");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(p.Count("SELECT count(*) FROM core.signups"), 5);
  ASSERT_EQ(p.Count("SELECT count(*) FROM core.aliases"), 1);

  // The finding's query: validate names the file and line; the run never runs it.
  p.Write("sources/raw/platform_aliases.yaml",
          "columns: [{name: updated_at, type: TIMESTAMP}]\n"
          "freshness:\n"
          "  query: DROP TABLE core.signups; SELECT max(updated_at) FROM raw.platform_aliases\n");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("sources/raw/platform_aliases.yaml:3: error: freshness query: the SQL must be one "
                               "SELECT statement"));
  p.Sql("INSERT INTO raw.platform_aliases VALUES (TIMESTAMP '2024-01-05')");
  r = p.Derived({"run", "--once"}, "2024-01-08");
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.signups"), 5) << r.out << r.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM raw.platform_aliases"), 2);
  // Its reader waits, and says why.
  auto status = p.Derived({"status", "--json"}, "2024-01-08");
  EXPECT_THAT(status.out, HasSubstr("its freshness query was not run"));
  EXPECT_EQ(p.Scalar("SELECT CAST(max(newest) AS VARCHAR) FROM core.aliases"), "2024-01-03 00:00:00");

  // A syntax error is placed at its line and column in a block scalar.
  p.Write("sources/raw/platform_aliases.yaml",
          "columns: [{name: updated_at, type: TIMESTAMP}]\n"
          "freshness:\n"
          "  query: |\n"
          "    SELECT max(updated_at)\n"
          "    FROM raw.platform_aliases WHERE WHERE\n");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("sources/raw/platform_aliases.yaml:5:"));
  EXPECT_THAT(r.err, HasSubstr("freshness query: invalid SQL: syntax error"));
}

// A file source's declared type that closes the view's SQL and runs a statement of its own.
void DeclaredTypeOfAFileSource(WarehouseProject& p) {
  p.Write("landing/x.csv", "a\n1\n");
  const std::string type = "INT) AS a FROM read_csv('" + p.dir().str() +
                           "/landing/x.csv'); DROP TABLE raw.users; SELECT CAST(1 AS INT";
  p.Write("sources/raw/files.yaml", "location: landing/*.csv\nfreshness: static\ncolumns:\n"
                                    "  - {name: a, type: \"" + type + "\"}\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("sources/raw/files.yaml:4:5: error: '" + type + "' is not a type"));
  r = p.Derived({"run", "--once"}, "2024-01-04");
  ExpectUntouched(p, "a file source's column type");
  EXPECT_THAT(p.Derived({"status"}, "2024-01-04").out, HasSubstr("column 'a': '" + type + "' is not a type"));
  std::filesystem::remove(p.dir().path() / "sources/raw/files.yaml");
}

// Not one of the findings, found beside them: a declared column type went into the SQL
// Derived writes as it was written, and a file source's view ran whatever followed it.
TEST_P(HardeningSql, DeclaredColumnTypeCannotRunStatements) {
  WarehouseProject p(GetParam());
  UsersAndAnotherTeamsTable(p);
  if (!p.postgres()) DeclaredTypeOfAFileSource(p);  // file sources (`location:`) are DuckDB's alone

  // Without a semicolon, a type that is more than a type is refused the same way.
  p.Write("tables/core/t.yaml", "schedule: daily\nstrategy: replace\nstart: 2024-01-01\n"
                                "columns: [{name: id, type: \"BIGINT) AS id, (SELECT 1) AS x, CAST(NULL AS BIGINT\"}]\n"
                                "sql: SELECT id FROM raw.users\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/t.yaml:4:"));
  EXPECT_THAT(r.err, HasSubstr("is not a type"));
  r = p.Derived({"run", "--once"}, "2024-01-04");
  EXPECT_NE(r.exit_code, 0);
  ExpectUntouched(p, "a table's column type");
}

// Polls `done` for up to ten seconds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The lock-down's settings as `derived query` reports them (through the service when one runs).
std::map<std::string, std::string> EngineSettings(const WarehouseProject& p) {
  auto r = p.Derived({"query", "--json",
                      "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
                      "'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions', "
                      "'allow_community_extensions', 'allow_unsigned_extensions', 'custom_extension_repository', "
                      "'autoinstall_extension_repository', 'allowed_directories')"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto row = nlohmann::json::parse(line);
    out[row["name"]] = row["value"].get<std::string>();
  }
  return out;
}

// Everything that would reach beyond the project: refused, and shown off in the settings.
void ExpectLockedDown(const WarehouseProject& p, const std::string& outside_dir, const std::string& where) {
  auto settings = EngineSettings(p);
  EXPECT_EQ(settings["enable_external_access"], "false") << where;
  EXPECT_EQ(settings["lock_configuration"], "true") << where;
  EXPECT_EQ(settings["autoinstall_known_extensions"], "false") << where;
  EXPECT_EQ(settings["autoload_known_extensions"], "false") << where;
  EXPECT_EQ(settings["allow_community_extensions"], "false") << where;
  EXPECT_EQ(settings["allow_unsigned_extensions"], "false") << where;
  // An INSTALL that got past everything would look in a local directory that is not there.
  EXPECT_EQ(settings["custom_extension_repository"].substr(0, 1), "/") << where;
  EXPECT_FALSE(std::filesystem::exists(settings["custom_extension_repository"])) << where;
  EXPECT_EQ(settings["autoinstall_extension_repository"], settings["custom_extension_repository"]) << where;
  EXPECT_THAT(settings["allowed_directories"], HasSubstr(p.dir().str() + "/")) << where;
  EXPECT_THAT(settings["allowed_directories"], Not(HasSubstr(outside_dir))) << where;

  // Extension statements never reach DuckDB, with or without --write.
  for (const std::string& sql : std::vector<std::string>{"INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL httpfs",
                                                         "UPDATE EXTENSIONS", "SELECT 1; install httpfs",
                                                         "/* x */ LOAD 'httpfs'"}) {
    for (bool write : {false, true}) {
      std::vector<std::string> args = {"query", sql};
      if (write) args.insert(args.begin() + 1, "--write");
      auto r = p.Derived(args);
      EXPECT_EQ(r.exit_code, 2) << where << ": " << sql;
      EXPECT_THAT(r.err, HasSubstr("is refused: Derived's engine installs and loads no extensions")) << sql;
      EXPECT_THAT(r.err, HasSubstr("nothing ran")) << sql;
      EXPECT_EQ(r.out, "") << sql;
    }
  }
  // Settings cannot be widened, even with --write: DuckDB's lock refuses them.
  for (const std::string& sql :
       std::vector<std::string>{"SET enable_external_access = true", "SET autoinstall_known_extensions = true",
                                "SET autoload_known_extensions = true", "RESET lock_configuration",
                                "SET allowed_directories = ['/']", "SET lock_configuration = false"}) {
    auto r = p.Derived({"query", "--write", sql});
    EXPECT_EQ(r.exit_code, 1) << where << ": " << sql;
    EXPECT_THAT(r.err, HasSubstr("the configuration has been locked")) << sql;
  }
  // Files outside the project: not read, not written, not attached.
  for (const std::string& sql : {std::string("SELECT * FROM read_text('/etc/passwd')"),
                                 "SELECT * FROM read_csv('" + outside_dir + "/b.csv')"}) {
    auto r = p.Derived({"query", sql});
    EXPECT_EQ(r.exit_code, 1) << where << ": " << sql;
    EXPECT_THAT(r.err, HasSubstr("Permission Error")) << sql;
    EXPECT_THAT(r.out, Not(HasSubstr("root:"))) << sql;
  }
  for (const std::string& sql : {"ATTACH '" + outside_dir + "/other.duckdb' AS other",
                                 "COPY (SELECT 1) TO '" + outside_dir + "/out.csv'"}) {
    auto r = p.Derived({"query", "--write", sql});
    EXPECT_EQ(r.exit_code, 1) << where << ": " << sql;
    EXPECT_THAT(r.err, HasSubstr("Permission Error")) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(outside_dir + "/other.duckdb")) << where;
  EXPECT_FALSE(std::filesystem::exists(outside_dir + "/out.csv")) << where;
  // Inside the project, files are the project's to read.
  auto r = p.Derived({"query", "SELECT count(*) AS n FROM read_csv('" + p.dir().str() + "/landing/events/*.csv')"});
  EXPECT_EQ(r.exit_code, 0) << where << ": " << r.err;
  EXPECT_EQ(r.out, "n\n4\n") << where;
}

// DuckDB-only: DuckDB's own lock-down (its settings, extensions, files it may read) and a
// file source.
TEST(Hardening, EngineIsLockedDown) {
  TempDir outside;
  outside.Write("b.csv", "secret\n42\n");
  WarehouseProject p;
  p.Write("landing/events/a.csv", "ts,amount\n2024-01-01 01:00:00,1\n2024-01-01 02:00:00,2\n");
  p.Write("landing/events/b.csv", "ts,amount\n2024-01-02 01:00:00,3\n2024-01-02 02:00:00,4\n");
  p.Write("sources/raw/events.yaml", "location: landing/events/*.csv\nfreshness: static\ntime_column: ts\n"
                                     "columns: [{name: ts, type: TIMESTAMP}, {name: amount, type: BIGINT}]\n");
  p.Write("tables/core/daily.yaml", "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                                    "sql: |\n  SELECT date_trunc('day', ts) AS day, sum(amount) AS amount FROM raw.events\n"
                                    "  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1\n");
  // Table SQL reading a file outside the project fails at validate, at its line, and in
  // the run, which builds the rest.
  p.Write("tables/core/leak.yaml", "schedule: daily\nstrategy: replace\nstart: 2024-01-01\n"
                                   "sql: SELECT content FROM read_text('/etc/passwd')\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/leak.yaml:4"));
  EXPECT_THAT(r.err, HasSubstr("Permission Error: Cannot access file \"/etc/passwd\""));
  r = p.Derived({"run", "--once"}, "2024-01-05");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out + r.err, HasSubstr("core.leak"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'leak'"), 0);
  // A declared file source is read.
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                         "SELECT * FROM (VALUES (TIMESTAMP '2024-01-01', 3), (TIMESTAMP '2024-01-02', 7))"),
            0);
  std::filesystem::remove(p.dir().path() / "tables/core/leak.yaml");

  ExpectLockedDown(p, outside.str(), "derived query");

  // The same through a running service's control endpoint.
  Background service({"run", "--watch", "0.2", "--project", p.dir().str()}, {"DERIVED_NOW=2024-01-05T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(p.dir().path() / ".derived/service.json"); }));
  ExpectLockedDown(p, outside.str(), "through the service");
  service.Signal(SIGTERM);
  auto stopped = service.Wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.out << stopped.err;
}

INSTANTIATE_TEST_SUITE_P(BothEngines, HardeningSql, kBothEngines, EngineName);

}  // namespace
}  // namespace derived::testing
