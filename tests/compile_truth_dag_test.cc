// End-to-end: custom SQL tests are checked by `validate` like a table's SQL; the upstream
// edges only tests make are marked in `dag`; a dependency cycle lists every edge with the
// reference that makes it; sources that are warehouse tables must be in the warehouse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "compile_truth_testing.h"
#include "db/duckdb.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CommandResult Validate(const TempDir& dir) { return RunDerived({"validate", "--project", dir.str()}); }

void WriteUsers(const TempDir& dir) {
  dir.Write("tables/core/users.yaml", "schedule: daily\nsql: SELECT DISTINCT user_id FROM raw.orders\n");
}

TEST(CompileTruthTests, CustomTestsAreParsedResolvedAndBoundByValidate) {
  TempDir dir;
  WriteBase(dir);
  WriteUsers(dir);
  dir.Write("tables/core/big_orders.yaml", R"(schedule: daily
tests:
  - not_null: [order_id]
  - name: positive
    sql: SELECT * FROM {{ this }} WHERE amout <= 0
  - name: two_statements
    sql: |
      SELECT * FROM {{ this }};
      SELECT 1
  - name: ddl
    sql: CREATE TABLE x AS SELECT 1
  - name: copy
    sql: COPY core.big_orders TO 'out.csv'
  - name: unknown_table
    sql: |
      SELECT o.*
      FROM {{ this }} o
      LEFT JOIN core.usres u USING (user_id)
      WHERE u.user_id IS NULL
  - name: syntax
    sql: SELECT order_id,, amount FROM {{ this }}
sql: |
  SELECT order_id, user_id, amount FROM raw.orders WHERE amount > 100
)");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  const std::string f = "tables/core/big_orders.yaml";
  EXPECT_THAT(r.err,
              HasSubstr(Where(dir, f, "amout") + ": error: custom test 'positive': type-check failed: Binder "
                                                 "Error: Referenced column \"amout\" not found"));
  EXPECT_THAT(
      r.err, HasSubstr(LineOf(dir, f, "SELECT * FROM {{ this }};") +
                       ": error: custom test 'two_statements': the SQL must be one SELECT statement, found 2 "
                       "statements"));
  EXPECT_THAT(r.err, HasSubstr(LineOf(dir, f, "CREATE TABLE") +
                               ": error: custom test 'ddl': the SQL must be one SELECT statement"));
  EXPECT_THAT(r.err,
              HasSubstr(LineOf(dir, f, "COPY") + ": error: custom test 'copy': the SQL must be one SELECT "
                                                 "statement"));
  EXPECT_THAT(r.err,
              HasSubstr(Where(dir, f, "core.usres") +
                        ": error: custom test 'unknown_table': unknown table 'core.usres': it is neither a "
                        "source nor a derived table (did you mean 'core.users'?)"));
  EXPECT_THAT(r.err, HasSubstr(Where(dir, f, ", amount FROM {{") +
                               ": error: custom test 'syntax': invalid SQL: syntax error"));
  EXPECT_THAT(r.err, HasSubstr("6 errors"));
}

TEST(CompileTruthTests, AValidCustomTestReadingAnotherTablePasses) {
  TempDir dir;
  WriteBase(dir);
  WriteUsers(dir);
  dir.Write("tables/core/orders.yaml", R"(schedule: daily
tests:
  - name: known_users
    sql: |
      SELECT o.* FROM {{ this }} o
      WHERE o.user_id NOT IN (SELECT user_id FROM core.users);
sql: SELECT order_id, user_id FROM raw.orders
)");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// A relationships test naming a table that does not exist gets the closest name; one
// naming a missing column gets the closest column.
TEST(CompileTruthTests, RelationshipsTargetsGetADidYouMean) {
  TempDir dir;
  WriteBase(dir);
  WriteUsers(dir);
  dir.Write("tables/core/orders.yaml", R"(schedule: daily
tests:
  - relationships: {column: user_id, to: core.user}
  - relationships: {column: user_id, to: users}
  - relationships: {column: user_id, to: core.users, field: usr_id}
sql: SELECT order_id, user_id FROM raw.orders
)");
  dir.Write("tables/mart/users.yaml", "schedule: daily\nsql: SELECT DISTINCT user_id FROM core.users\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(LineOf(dir, "tables/core/orders.yaml", "- relationships: {column: user_id, to: core.user}") +
                               ":5: error: relationships test refers to unknown table 'core.user' (did you mean "
                               "'core.users'?)"));
  EXPECT_THAT(r.err, HasSubstr("relationships test: 'core.users' has no column 'usr_id' (did you mean 'user_id'?)"));
}

// The edges of a table to what only its tests read, in every format of `dag`.
TEST(CompileTruthTests, DagMarksEdgesThatComeFromTests) {
  TempDir dir;
  WriteBase(dir);
  WriteUsers(dir);
  dir.Write("tables/core/amounts.yaml", "schedule: daily\nsql: SELECT order_id, amount FROM raw.orders\n");
  dir.Write("tables/core/orders.yaml", R"(schedule: daily
tests:
  - relationships: {column: user_id, to: users}
  - name: amounts_match
    sql: |
      SELECT * FROM {{ this }} o
      JOIN core.amounts a USING (order_id) WHERE a.amount <> o.amount
sql: |
  SELECT order_id, user_id, amount
  FROM raw.orders
)");
  const std::string f = "tables/core/orders.yaml";
  auto r = RunDerived({"dag", "--format", "json", "--project", dir.str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> edges;
  for (const auto& n : nlohmann::json::parse(r.out)) {
    if (n["name"] != "core.orders") continue;
    EXPECT_EQ(n["upstream"], nlohmann::json({"raw.orders", "core.amounts", "core.users"}));
    for (const auto& e : n["upstream_edges"]) edges[e["name"]] = e;
  }
  ASSERT_EQ(edges.size(), 3u);
  EXPECT_EQ(edges["raw.orders"]["kind"], "sql");
  EXPECT_EQ(f + ":" + std::to_string(edges["raw.orders"]["line"].get<int>()),
            LineOf(dir, f, "FROM raw.orders"));
  EXPECT_EQ(edges["core.users"]["kind"], "relationships_test");
  EXPECT_EQ(edges["core.users"]["test"], "relationships_user_id");
  EXPECT_EQ(f + ":" + std::to_string(edges["core.users"]["line"].get<int>()),
            LineOf(dir, f, "relationships:"));
  EXPECT_EQ(edges["core.amounts"]["kind"], "custom_test");
  EXPECT_EQ(edges["core.amounts"]["test"], "amounts_match");
  EXPECT_EQ(f + ":" + std::to_string(edges["core.amounts"]["line"].get<int>()),
            LineOf(dir, f, "core.amounts"));

  r = RunDerived({"dag", "--project", dir.str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("<- raw.orders, core.amounts (custom test 'amounts_match'), core.users "
                               "(relationships test 'relationships_user_id')\n"));

  r = RunDerived({"dag", "--format", "dot", "--project", dir.str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"raw.orders\" -> \"core.orders\";"));
  EXPECT_THAT(r.out, HasSubstr("\"core.users\" -> \"core.orders\" [style=dashed, label=\"relationships test "
                               "'relationships_user_id'\"];"));
  EXPECT_THAT(r.out, HasSubstr("\"core.amounts\" -> \"core.orders\" [style=dashed, label=\"custom test "
                               "'amounts_match'\"];"));
}

TEST(CompileTruthTests, ACycleListsEveryEdgeWithItsReference) {
  TempDir dir;
  dir.Write("derived.yaml", "name: c\n");
  dir.Write("tables/a/x.yaml", "schedule: daily\nsql: |\n  SELECT 1 AS id\n  FROM a.y\n");
  dir.Write("tables/a/y.yaml", "schedule: daily\nsql: SELECT * FROM a.z\n");
  dir.Write("tables/a/z.yaml", R"(schedule: daily
tests:
  - row_count: {min: 1}
  - relationships: {column: id, to: a.x}
sql: SELECT 1 AS id
)");
  // A second cycle, closed by a custom test.
  dir.Write("tables/b/p.yaml", R"(schedule: daily
tests:
  - name: reads_q
    sql: SELECT * FROM {{ this }} WHERE id NOT IN (SELECT id FROM b.q)
sql: SELECT 1 AS id
)");
  dir.Write("tables/b/q.yaml", "schedule: daily\nsql: SELECT id FROM b.p\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  // Each cycle from its alphabetically first table, reported where that table's reference
  // closes it; then every edge with the reference that makes it.
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "tables/a/x.yaml", "a.y") +
                               ": error: dependency cycle: a.x -> a.z -> a.y -> a.x\n"
                               "    a.x -> a.z (" +
                               Where(dir, "tables/a/z.yaml", "relationships") +
                               ": relationships test 'relationships_id' reads a.x)\n"
                               "    a.z -> a.y (" +
                               Where(dir, "tables/a/y.yaml", "a.z") +
                               ": reads a.z)\n"
                               "    a.y -> a.x (" +
                               Where(dir, "tables/a/x.yaml", "a.y") + ": reads a.y)\n"));
  EXPECT_THAT(r.err,
              HasSubstr(Where(dir, "tables/b/p.yaml", "b.q") +
                        ": error: dependency cycle: b.p -> b.q -> b.p\n"
                        "    b.p -> b.q (" +
                        Where(dir, "tables/b/q.yaml", "b.p") +
                        ": reads b.p)\n"
                        "    b.q -> b.p (" +
                        Where(dir, "tables/b/p.yaml", "b.q") + ": custom test 'reads_q' reads b.q)\n"));
  EXPECT_THAT(r.err, HasSubstr("2 errors"));
}

// A warehouse with raw.orders and raw.user (not raw.users) and an empty schema `ext`.
void WriteWarehouse(const TempDir& dir) {
  auto db = db::Database::Open((dir.path() / "warehouse.duckdb").string());
  ASSERT_TRUE(db.ok()) << db.error().message;
  auto conn = db::Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(
      (*conn)
          ->Execute("CREATE SCHEMA raw; CREATE SCHEMA exts; "
                    "CREATE TABLE raw.orders (order_id BIGINT, user_id BIGINT, amount DOUBLE, ts TIMESTAMP); "
                    "CREATE TABLE raw.user (id BIGINT); CREATE VIEW raw.events_v AS SELECT 1 AS x")
          .ok());
}

void WriteWarehouseSources(const TempDir& dir) {
  WriteBase(dir);
  dir.Write("sources/raw/users.yaml", "freshness: marker\n");
  dir.Write("sources/raw/events_v.yaml", "freshness: marker\n");
  dir.Write("sources/ext/clicks.yaml", "freshness: marker\n");
  dir.Write("sources/files/landed.yaml", "location: landing/*.parquet\nfreshness: marker\n");
}

TEST(CompileTruthWarehouse, MissingWarehouseTablesAreReportedWithASuggestion) {
  TempDir dir;
  WriteWarehouseSources(dir);
  WriteWarehouse(dir);
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("sources/raw/users.yaml:1: error: source 'raw.users' is a table in the warehouse (it "
                        "has no 'location'), but warehouse.duckdb has no table 'raw.users' (did you mean "
                        "'raw.user'?)"));
  EXPECT_THAT(r.err,
              HasSubstr("sources/ext/clicks.yaml:1: error: source 'ext.clicks' is a table in the warehouse "
                        "(it has no 'location'), but warehouse.duckdb has no schema 'ext' (did you mean "
                        "'exts'?)"));
  EXPECT_THAT(r.err, Not(HasSubstr("raw.orders")));  // present
  EXPECT_THAT(r.err, Not(HasSubstr("events_v")));    // a view counts
  EXPECT_THAT(r.err, Not(HasSubstr("landed")));      // files are not warehouse tables
  EXPECT_THAT(r.err, HasSubstr("2 errors"));
}

TEST(CompileTruthWarehouse, NoWarehouseYetMeansNothingToReport) {
  TempDir dir;
  WriteWarehouseSources(dir);
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "warehouse.duckdb"));  // and validate did not create one
}

TEST(CompileTruthWarehouse, AWarehouseInUseIsANoteNotAnError) {
  TempDir dir;
  WriteWarehouseSources(dir);
  WriteWarehouse(dir);
  // This process holds the warehouse as a running service would.
  auto held = db::Database::Open((dir.path() / "warehouse.duckdb").string());
  ASSERT_TRUE(held.ok());
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("note: warehouse-table sources not checked: another process"));
  EXPECT_THAT(r.err, Not(HasSubstr("lock")));
  r = RunDerived({"validate", "--json", "--project", dir.str()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["warehouse_sources"]["checked"], false);
}

}  // namespace
}  // namespace derived::testing
