// Tests of RenderedSql: run-time engine errors about rendered SQL, mapped back to the
// template. The errors are real DuckDB errors of statements that embed the SQL the way the
// builder does; each expected location is found by scanning the template's file for the
// token the error is about, independently of the code under test.
#include "compile/rendered_sql.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "db/duckdb.h"
#include "template/template.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 1-based line and column (in characters) of the first `marker` in `text`.
Location Find(const std::string& file, const std::string& text, const std::string& marker) {
  size_t at = text.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  Location l{file, 1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++l.line;
      l.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++l.column;
    }
  }
  return l;
}

// A table file holding `value` as its block scalar `sql: |`, indented as YAML wants;
// the value starts on line 3.
std::string YamlWith(const std::string& value) {
  std::string yaml = "schedule: daily\nsql: |\n";
  size_t start = 0;
  while (start <= value.size()) {
    size_t nl = value.find('\n', start);
    std::string line = value.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    yaml += (line.empty() ? "" : "  ") + line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return yaml;
}

class RenderedSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = db::Database::Open(":memory:");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto conn = db::Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    ASSERT_TRUE(conn_->Execute("CREATE TABLE t (a INTEGER, b INTEGER, s VARCHAR)").ok());
  }

  // `yaml` holds a block scalar `sql: |` whose value starts on `first_line`.
  RenderedSql Render(const std::string& yaml, int first_line, const std::string& value) {
    auto t = tmpl::Parse({"t.yaml", first_line, value});
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    tmpl::SourceMap map;
    auto sql = env_.Render(**t, {{"n", 3}}, &map);
    EXPECT_TRUE(sql.ok()) << sql.error().ToString();
    PlacementSet places{
        std::make_shared<TextPlacement>(TextPlacement::InYaml("t.yaml", first_line, value, yaml)), nullptr};
    return RenderedSql(*sql, std::move(map), places);
  }

  // The builder's wrapper, and the message DuckDB gives when running it.
  std::string Fail(const RenderedSql& r, std::string* statement) {
    *statement = "CREATE TABLE out AS SELECT * FROM (\n" + r.sql() + "\n) AS q";
    auto st = conn_->Execute(*statement);
    EXPECT_FALSE(st.ok()) << *statement;
    return st.ok() ? "" : st.error().message;
  }

  tmpl::Environment env_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
};

TEST_F(RenderedSqlTest, BinderErrorThroughTheBuildersWrapper) {
  std::string value =
      "SELECT a,\n"
      "{#- a comment\n"
      "    over lines #}\n"
      "  {% for i in range(n) %}{{ i }} AS c{{ i }}, {% endfor %}\n"
      "       bb\n"
      "FROM t";
  std::string yaml = YamlWith(value);
  RenderedSql r = Render(yaml, 3, value);
  std::string statement;
  std::string message = Fail(r, &statement);
  ASSERT_THAT(message, HasSubstr("LINE "));
  auto o = r.LocateEngineError(message, 2);
  ASSERT_TRUE(o.has_value()) << message;
  EXPECT_EQ(o->where.ToString(), Find("t.yaml", yaml, "bb").ToString()) << message;
  EXPECT_EQ(o->Note(), "");
  // Finding the SQL in the statement says the same.
  auto same = r.LocateEngineError(message, statement);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->where.ToString(), o->where.ToString());
  // The excerpt numbers the statement's lines, not the template's: it can be dropped.
  EXPECT_THAT(WithoutEngineExcerpt(message), Not(HasSubstr("LINE ")));
  EXPECT_THAT(WithoutEngineExcerpt(message), HasSubstr("\"bb\""));
}

// The builder embeds StripStatement(sql): leading blank lines (from tags) and the
// trailing semicolon are gone, so the statement's lines are not the rendering's.
TEST_F(RenderedSqlTest, TheBuildersStrippedStatementIsPlacedToo) {
  std::string value = "{% set x = 1 %}\n\n   SELECT a, bb\nFROM t;\n";
  std::string yaml = YamlWith(value);
  RenderedSql r = Render(yaml, 3, value);
  ASSERT_EQ(r.sql().substr(0, 2), "\n\n");
  std::string statement = "CREATE TABLE out AS SELECT * FROM (\n" + StripStatement(r.sql()) + "\n) AS q";
  auto st = conn_->Execute(statement);
  ASSERT_FALSE(st.ok());
  std::string want = Find("t.yaml", yaml, "bb").ToString();
  auto o = r.LocateEngineError(st.error().message, 2, RenderedSql::Embedding::kStripped);
  ASSERT_TRUE(o.has_value()) << st.error().message;
  EXPECT_EQ(o->where.ToString(), want);
  auto same = r.LocateEngineError(st.error().message, statement);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->where.ToString(), want);
}

TEST_F(RenderedSqlTest, LongLinesAreCutInTheExcerptButStillPlaced) {
  std::string cols;
  for (int i = 0; i < 30; ++i) cols += "a AS x" + std::to_string(i) + ", ";
  std::string value = "SELECT " + cols + "zz, " + cols + "b\nFROM t";
  std::string yaml = YamlWith(value);
  RenderedSql r = Render(yaml, 3, value);
  std::string statement;
  std::string message = Fail(r, &statement);
  ASSERT_THAT(message, HasSubstr("..."));  // DuckDB shortened the line
  auto o = r.LocateEngineError(message, statement);
  ASSERT_TRUE(o.has_value()) << message;
  EXPECT_EQ(o->where.ToString(), Find("t.yaml", yaml, "zz").ToString()) << message;
}

TEST_F(RenderedSqlTest, NonAsciiBeforeTheCaretKeepsTheLineOnly) {
  std::string value = "SELECT 'héllo' AS h,\n  'ü', bb FROM t";
  std::string yaml = YamlWith(value);
  RenderedSql r = Render(yaml, 3, value);
  std::string statement;
  std::string message = Fail(r, &statement);
  auto o = r.LocateEngineError(message, 2);
  ASSERT_TRUE(o.has_value()) << message;
  Location want = Find("t.yaml", yaml, "bb");
  EXPECT_EQ(o->where.line, want.line);
  EXPECT_EQ(o->where.column, 0);  // DuckDB's caret counts display width, not bytes
}

TEST_F(RenderedSqlTest, ErrorsOutsideTheSqlOrWithoutAPositionAreNotPlaced) {
  std::string value = "SELECT a FROM t";
  RenderedSql r = Render("sql: SELECT a FROM t\n", 1, value);
  // The wrapper's own line.
  auto st = conn_->Execute("SELECT * FROM (\n" + r.sql() + "\n) AS q WHERE nope = 1");
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(r.LocateEngineError(st.error().message, 2).has_value()) << st.error().message;
  EXPECT_FALSE(r.LocateEngineError("Constraint Error: NOT NULL constraint failed: out.a", 2).has_value());
  EXPECT_FALSE(r.LocateEngineError("anything", "a statement without the SQL").has_value());
}

TEST_F(RenderedSqlTest, TextFromAMacroNamesTheMacroAndItsCall) {
  std::string macros = "{% macro pick() -%}\n  a, bb\n{%- endmacro %}\n";
  ASSERT_TRUE(env_.AddMacroFile({"macros/m.sql", 1, macros}).ok());
  std::string value = "SELECT\n  {{ pick() }}\nFROM t";
  std::string yaml = YamlWith(value);
  auto t = tmpl::Parse({"t.yaml", 3, value});
  ASSERT_TRUE(t.ok());
  tmpl::SourceMap map;
  auto sql = env_.Render(**t, {}, &map);
  ASSERT_TRUE(sql.ok());
  auto placements = std::make_shared<std::map<std::string, TextPlacement>>();
  placements->emplace("macros/m.sql", TextPlacement::WholeFile("macros/m.sql", macros));
  RenderedSql r(
      *sql, std::move(map),
      {std::make_shared<TextPlacement>(TextPlacement::InYaml("t.yaml", 3, value, yaml)), placements});
  std::string statement;
  std::string message = Fail(r, &statement);
  auto o = r.LocateEngineError(message, statement);
  ASSERT_TRUE(o.has_value()) << message;
  EXPECT_EQ(o->where.ToString(), Find("macros/m.sql", macros, "bb").ToString());
  EXPECT_EQ(o->Note(),
            " (in macro 'pick' called from t.yaml:" + std::to_string(Find("t.yaml", yaml, "{{").line) + ")");
}

}  // namespace
}  // namespace derived
