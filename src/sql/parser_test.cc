#include "sql/parser.h"

#include "db/duckdb.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace derived::sql {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SqlParserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(*db::Database::Open(":memory:"));
    conn_ = std::move(*db::Connection::Open(*db_));
    parser_ = std::move(*SqlParser::Create(conn_.get()));
  }

  // The references as "schema.table" strings, in text order.
  std::vector<std::string> Refs(const std::string& sql) {
    auto parsed = parser_->Parse(sql);
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().ToString());
    std::vector<std::string> out;
    if (parsed.ok())
      for (const auto& r : parsed->tables) out.push_back(r.ToString());
    return out;
  }

  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<SqlParser> parser_;
};

TEST_F(SqlParserTest, PlainAndQualifiedNames) {
  EXPECT_THAT(Refs("select * from users"), ElementsAre("users"));
  EXPECT_THAT(Refs("select * from raw.users u"), ElementsAre("raw.users"));
  EXPECT_THAT(Refs("select * from cat.raw.users"), ElementsAre("cat.raw.users"));
}

TEST_F(SqlParserTest, QuotingPreservesNames) {
  EXPECT_THAT(Refs("select * from \"Raw\".\"My Table\""), ElementsAre("Raw.My Table"));
  EXPECT_THAT(Refs("select * from \"with\"\"quote\""), ElementsAre("with\"quote"));
}

TEST_F(SqlParserTest, Joins) {
  EXPECT_THAT(Refs("select * from a join b on a.x = b.x left join c.d using (x), e cross join f"),
              ElementsAre("a", "b", "c.d", "e", "f"));
}

TEST_F(SqlParserTest, SubqueriesEverywhere) {
  EXPECT_THAT(Refs("select (select max(x) from s1), x from (select * from s2) t "
                   "where x in (select x from s3) and exists (select 1 from s4 where s4.y = t.y)"),
              ElementsAre("s1", "s2", "s3", "s4"));
}

TEST_F(SqlParserTest, SetOperations) {
  EXPECT_THAT(Refs("select x from a union all select x from b except select x from c intersect select x from d"),
              ::testing::UnorderedElementsAre("a", "b", "c", "d"));
}

TEST_F(SqlParserTest, LateralJoin) {
  EXPECT_THAT(Refs("select * from a, lateral (select * from b where b.k = a.k) l"), ElementsAre("a", "b"));
}

TEST_F(SqlParserTest, CteNamesAreNotTables) {
  EXPECT_THAT(Refs("with c as (select * from base) select * from c join other using (k)"),
              ElementsAre("base", "other"));
}

TEST_F(SqlParserTest, LaterCtesSeeEarlierOnes) {
  EXPECT_THAT(Refs("with a as (select * from t1), b as (select * from a) select * from b"), ElementsAre("t1"));
}

TEST_F(SqlParserTest, NonRecursiveCteDoesNotSeeItself) {
  // WITH t AS (SELECT * FROM t) reads the table t, as DuckDB and PostgreSQL bind it.
  EXPECT_THAT(Refs("with t as (select * from t) select * from t"), ElementsAre("t"));
}

TEST_F(SqlParserTest, RecursiveCteSeesItself) {
  EXPECT_THAT(Refs("with recursive r as (select 1 as n from seed union all select n + 1 from r where n < 5) "
                   "select * from r"),
              ElementsAre("seed"));
}

TEST_F(SqlParserTest, CteScopeEndsWithItsQuery) {
  // The CTE x exists only inside the subquery; the outer x is a table.
  EXPECT_THAT(Refs("select * from (with x as (select 1 as k) select * from x) s join x using (k)"),
              ElementsAre("x"));
}

TEST_F(SqlParserTest, NestedCteShadowsOuterTable) {
  EXPECT_THAT(Refs("with a as (with b as (select * from t) select * from b) select * from a, b"),
              ElementsAre("t", "b"));
}

TEST_F(SqlParserTest, QualifiedNameIsNeverACte) {
  EXPECT_THAT(Refs("with users as (select 1) select * from raw.users"), ElementsAre("raw.users"));
}

TEST_F(SqlParserTest, TableFunctionsAreNotTables) {
  EXPECT_THAT(Refs("select * from range(10) r, read_csv('x.csv') c"), ElementsAre());
}

TEST_F(SqlParserTest, SyntaxErrorHasLineAndColumn) {
  auto r = parser_->Parse("select a,\n  b\nfrm t");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("syntax error"));
  // "frm" parses as an alias of b, so the engine stops at the "t" after it.
  EXPECT_EQ(r.error().where.line, 3);
  EXPECT_EQ(r.error().where.column, 5);
}

TEST_F(SqlParserTest, OnlyOneSelect) {
  auto r = parser_->Parse("select 1; select 2");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("found 2 statements"));
  for (const char* other : {"delete from t", "create table x (a int)", "copy t to 'x.csv'", "select 1; drop table t",
                            "pragma version", "explain select 1"}) {
    r = parser_->Parse(other);
    ASSERT_FALSE(r.ok()) << other;
    EXPECT_THAT(r.error().message, HasSubstr("must be one SELECT statement")) << other;
  }
  r = parser_->Parse("  -- nothing\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("empty"));
}

TEST_F(SqlParserTest, OffsetsPointAtTheReference) {
  std::string sql = "select *\nfrom a\njoin b using (k)";
  auto r = parser_->Parse(sql);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->tables.size(), 2u);
  EXPECT_EQ(sql.substr(r->tables[0].offset, 1), "a");
  EXPECT_EQ(sql.substr(r->tables[1].offset, 1), "b");
}

}  // namespace
}  // namespace derived::sql
