// Tests of the compiled project's rendering API as the build engine uses it at run time:
// the rendered SQL of a table or custom test, wrapped like the builder wraps it, fails in
// a real DuckDB, and the error maps back to the template. Expected places are found by
// scanning the project's files for the offending token.
#include "compile/compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "db/duckdb.h"
#include "testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::string Where(const TempDir& dir, const std::string& file, const std::string& marker) {
  std::string text = dir.Read(file);
  size_t at = text.find(marker);
  if (at == std::string::npos) return marker + " not found";
  int line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

class CompiledProjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("derived.yaml", "name: t\ndefaults: {start: 2024-01-01}\n");
    dir_.Write("sources/raw/orders.yaml",
               "freshness: marker\ncolumns:\n  - {name: order_id, type: BIGINT}\n  - {name: amount, type: "
               "VARCHAR}\n");
    dir_.Write("tables/core/orders.yaml", R"(schedule: daily
tests:
  - not_null: [order_id]
  - name: positive
    sql: |
      SELECT *
      FROM {{ this }}
      WHERE CAST(amount AS INTEGER) < 0
sql: |
  SELECT order_id,
  {#- a comment
      over lines #}
         CAST(amount AS INTEGER) AS amount
  FROM raw.orders
)");
    CompileOptions opts;
    opts.use_cache = false;
    opts.now = Timestamp{1717200000};
    auto cp = Compile(dir_.str(), opts);
    ASSERT_TRUE(cp.ok()) << cp.error().ToString();
    ASSERT_FALSE(cp->diags.has_errors()) << cp->diags.all().front().ToString();
    cp_ = std::make_unique<CompiledProject>(std::move(*cp));
    table_ = cp_->FindTable("core.orders");
    ASSERT_NE(table_, nullptr);

    auto db = db::Database::Open(":memory:");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto conn = db::Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    // A value that does not convert: the query fails only when it runs.
    ASSERT_TRUE(conn_
                    ->Execute("CREATE SCHEMA raw; CREATE SCHEMA core;"
                              "CREATE TABLE raw.orders AS SELECT 1::BIGINT AS order_id, 'x' AS amount;"
                              "CREATE TABLE core.orders AS SELECT 1::BIGINT AS order_id, 'y' AS amount")
                    .ok());
  }

  TempDir dir_;
  std::unique_ptr<CompiledProject> cp_;
  const CompiledTable* table_ = nullptr;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
};

// target.engine names the engine the project runs on (duckdb by default).
TEST(CompiledProject, TargetEngineNamesTheWarehouseEngine) {
  TempDir dir;
  dir.Write("derived.yaml", "name: t\ndefaults: {start: 2024-01-01}\n");
  dir.Write("tables/core/e.yaml",
            "schedule: daily\nstrategy: replace\nsql: SELECT '{{ target.engine }}' AS engine"
            "{% if target.engine == 'postgres' %}, 1 AS pg{% endif %}\n");
  CompileOptions opts;
  opts.use_cache = false;
  auto cp = Compile(dir.str(), opts);
  ASSERT_TRUE(cp.ok()) << cp.error().ToString();
  ASSERT_FALSE(cp->diags.has_errors()) << cp->diags.all().front().ToString();
  const CompiledTable* t = cp->FindTable("core.e");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Trim(t->sql), "SELECT 'duckdb' AS engine");
}

TEST_F(CompiledProjectTest, ARunTimeErrorOfTheTableMapsToItsTemplate) {
  auto r = cp_->RenderMapped(*table_, table_->window, /*initial_build=*/false);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->sql(), table_->sql);
  std::string statement = "INSERT INTO core.orders SELECT * FROM (\n" + r->sql() + "\n) AS q";
  auto st = conn_->Execute(statement);
  ASSERT_FALSE(st.ok());
  ASSERT_THAT(st.error().message, HasSubstr("Could not convert string 'x'"));
  auto o = r->LocateEngineError(st.error().message, /*sql_first_line=*/2);
  ASSERT_TRUE(o.has_value()) << st.error().message;
  EXPECT_EQ(o->where.ToString(), Where(dir_, "tables/core/orders.yaml", "CAST(amount AS INTEGER) AS"));
  EXPECT_EQ(o->site.ToString(), o->where.ToString());
}

TEST_F(CompiledProjectTest, ARunTimeErrorOfACustomTestMapsToItsLineInTheYaml) {
  const TestDef& test = cp_->def(*table_).tests[1];
  ASSERT_EQ(test.name, "positive");
  auto r = cp_->RenderTest(*table_, test, table_->window);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  // The audit's wrapper.
  std::string statement = "SELECT count(*) FROM (\n" + r->sql() + "\n) AS offending";
  auto st = conn_->Execute(statement);
  ASSERT_FALSE(st.ok());
  auto o = r->LocateEngineError(st.error().message, statement);
  ASSERT_TRUE(o.has_value()) << st.error().message;
  EXPECT_EQ(o->where.ToString(), Where(dir_, "tables/core/orders.yaml", "CAST(amount AS INTEGER) < 0"));
  // RenderText for the test's own SQL and location is the same rendering.
  auto text = cp_->RenderText(*table_, test.sql, test.where, table_->window);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, r->sql());
}

TEST_F(CompiledProjectTest, EdgesSayWhyAnUpstreamIsOne) {
  ASSERT_EQ(table_->edges.size(), 1u);
  const UpstreamEdge* e = CompiledProject::EdgeOf(*table_, "RAW.orders");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, EdgeKind::kSql);
  EXPECT_EQ(e->Describe(), Where(dir_, "tables/core/orders.yaml", "raw.orders") + ": reads raw.orders");
  EXPECT_EQ(CompiledProject::EdgeOf(*table_, "core.orders"), nullptr);
  ASSERT_EQ(table_->custom_tests.size(), 1u);
  EXPECT_TRUE(table_->custom_tests[0].reads_itself);
  EXPECT_TRUE(table_->custom_tests[0].parsed);
}

}  // namespace
}  // namespace derived
