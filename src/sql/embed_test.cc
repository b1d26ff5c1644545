#include "sql/embed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "db/duckdb.h"
#include "sql/parser.h"

namespace derived::sql {
namespace {

using ::testing::HasSubstr;

class EmbedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(*db::Database::Open(":memory:"));
    conn_ = std::move(*db::Connection::Open(*db_));
    ASSERT_TRUE(conn_->Execute("CREATE TABLE t AS SELECT range AS a FROM range(3)").ok());
    parser_ = std::move(*SqlParser::Create(conn_.get()));
  }

  // The refusal of `sql` as a user's query, or "" when it is one SELECT.
  std::string Refusal(const std::string& sql) {
    auto q = parser_->CheckSelect(sql);
    return q.ok() ? "" : q.error().message;
  }

  CheckedSelect Checked(const std::string& sql) {
    auto q = parser_->CheckSelect(sql);
    EXPECT_TRUE(q.ok()) << sql << ": " << q.error().message;
    return *q;
  }

  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<SqlParser> parser_;
};

TEST_F(EmbedTest, AUserQueryIsExactlyOneSelect) {
  for (const char* sql : {"SELECT a FROM t", "  select a from t ;; \n", "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
                          "FROM t SELECT a", "VALUES (1, 2)", "TABLE t", "SELECT 1 -- ; DROP TABLE t",
                          "SELECT 'x; DROP TABLE t' AS s", "PIVOT t ON a IN (1, 2) USING count(*)"}) {
    EXPECT_EQ(Refusal(sql), "") << sql;
  }
  EXPECT_EQ(Checked("  select a from t ;; \n").text(), "select a from t");
  EXPECT_THAT(Refusal("DROP TABLE t"), HasSubstr("must be one SELECT statement"));
  EXPECT_THAT(Refusal("COPY t TO 'x.csv'"), HasSubstr("must be one SELECT statement"));
  EXPECT_THAT(Refusal("SELECT 1; SELECT 2"), HasSubstr("found 2 statements"));
  EXPECT_THAT(Refusal("SELECT 1; DROP TABLE t"), HasSubstr("must be one SELECT statement"));
  // Finding 1's text parses as no statement at all on its own.
  EXPECT_THAT(Refusal("SELECT 1 AS a WHERE false) AS x; DROP TABLE raw.users; SELECT * FROM (SELECT 1 AS a WHERE "
                      "false"),
              HasSubstr("syntax error"));
  EXPECT_THAT(Refusal(std::string("SELECT 1\0; DROP TABLE t", 24)), HasSubstr("NUL byte"));
  EXPECT_THAT(Refusal("SELECT * FROM query('SELECT 1')"), HasSubstr("calls query()"));
  EXPECT_THAT(Refusal("SELECT * FROM checkpoint()"), HasSubstr("calls checkpoint()"));
  EXPECT_EQ(Refusal(""), "the SQL is empty: expected one SELECT statement");
}

// PostgreSQL's functions that would change the session under Derived's statements, run
// SQL text or reach the server's files are refused on either engine, however written.
TEST_F(EmbedTest, PostgresFunctionsWithSideEffectsAreRefused) {
  EXPECT_THAT(Refusal("SELECT set_config('standard_conforming_strings', 'off', false)"),
              HasSubstr("calls set_config(), which Derived does not allow in a query: it changes the database's or the "
                        "session's state"));
  EXPECT_THAT(Refusal("SELECT pg_catalog.SET_CONFIG('role', 'admin', false) AS r"), HasSubstr("calls set_config()"));
  EXPECT_THAT(Refusal("SELECT query_to_xml('DROP TABLE raw.users', true, false, '')"),
              HasSubstr("runs SQL given as text"));
  EXPECT_THAT(Refusal("SELECT * FROM ts_stat('DELETE FROM t')"), HasSubstr("calls ts_stat()"));
  EXPECT_THAT(Refusal("SELECT ts_rewrite('a'::tsquery, 'SELECT 1')"), HasSubstr("runs SQL given as text"));
  EXPECT_THAT(Refusal("SELECT table_to_xml('raw.users', true, false, '')"), HasSubstr("out of lineage's sight"));
  EXPECT_THAT(Refusal("SELECT pg_read_file('/etc/passwd')"), HasSubstr("reaches the database server's files"));
  EXPECT_THAT(Refusal("SELECT lo_import('/etc/passwd')"), HasSubstr("calls lo_import()"));
  EXPECT_THAT(Refusal("SELECT a FROM t WHERE pg_try_advisory_lock(1)"), HasSubstr("calls pg_try_advisory_lock()"));
  EXPECT_THAT(Refusal("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"),
              HasSubstr("calls pg_terminate_backend()"));
  EXPECT_THAT(Refusal("SELECT setval('s', 1)"), HasSubstr("calls setval()"));
  // Names that only look alike are SQL like any other.
  EXPECT_EQ(Refusal("SELECT lower(a), log(2, a), current_setting('TimeZone') FROM t"), "");
}

TEST_F(EmbedTest, AStatementMustHoldTheCheckedQueryAsItReadsAlone) {
  CheckedSelect q = Checked("SELECT a FROM t WHERE a > 0");
  Embedding count = Embedding::Subquery("SELECT count(*) FROM ", "q", " WHERE a < 5");
  EXPECT_EQ(count.Select(q.text()), "SELECT count(*) FROM (\nSELECT a FROM t WHERE a > 0\n) AS q WHERE a < 5");
  EXPECT_EQ(count.QueryLine(), 2);
  EXPECT_TRUE(parser_->CheckEmbedded(count.Select(q.text()), q, count).ok());
  // A query of the user's own named q inside is the user's: the outermost q is ours.
  CheckedSelect nested = Checked("SELECT * FROM (SELECT a FROM t) AS q");
  EXPECT_TRUE(parser_->CheckEmbedded(count.Select(nested.text()), nested, count).ok());

  // Text that is not the checked query, in its place: what a pasted wrapper would run.
  auto refusal = [&](const std::string& text) {
    Status st = parser_->CheckEmbedded(count.Select(text), q, count);
    return st.ok() ? "" : st.error().message;
  };
  EXPECT_THAT(refusal("SELECT a FROM t WHERE a > 0) AS x; DROP TABLE t; SELECT * FROM (SELECT a FROM t WHERE a > 0"),
              HasSubstr("nothing ran"));
  EXPECT_THAT(refusal("SELECT a FROM t WHERE a > 0) AS q, (SELECT a FROM t WHERE a > 0"),
              HasSubstr("holds 2 queries"));
  EXPECT_THAT(refusal("SELECT a FROM t WHERE a > 0) AS q WHERE (true"), HasSubstr("nothing ran"));
  EXPECT_THAT(refusal("SELECT a FROM t"), HasSubstr("does not read the same"));
  // The same query in other whitespace reads the same.
  EXPECT_EQ(refusal("SELECT a\n  FROM t WHERE a>0"), "");

  // Alone: only the text checked.
  EXPECT_TRUE(parser_->CheckEmbedded(q.text(), q, Embedding::Alone()).ok());
  EXPECT_FALSE(parser_->CheckEmbedded(q.text() + "; DROP TABLE t", q, Embedding::Alone()).ok());
  // Described: DESCRIBE of the query itself, which keeps its column names as they are.
  Embedding describe = Embedding::Describe();
  EXPECT_EQ(describe.Select(q.text()), "DESCRIBE\nSELECT a FROM t WHERE a > 0");
  EXPECT_TRUE(parser_->CheckEmbedded(describe.Select(q.text()), q, describe).ok());
  EXPECT_FALSE(parser_->CheckEmbedded(describe.Select("SELECT 1"), q, describe).ok());
}

TEST_F(EmbedTest, ADeclaredTypeIsOneTypeNameAndNothingElse) {
  for (const char* type : {"BIGINT", "int", "DECIMAL(18, 3)", "VARCHAR[]", "INTEGER[3]", "STRUCT(a INT, \"b c\" VARCHAR)",
                           "MAP(VARCHAR, DOUBLE)", "ENUM('a', 'it''s')", "TIMESTAMP WITH TIME ZONE"}) {
    EXPECT_TRUE(parser_->CheckType(type).ok()) << type;
  }
  for (const char* type : {"", "INT) AS a, (SELECT 1) AS b, CAST(NULL AS INT", "INT) AS t FROM t --",
                           "INT); DROP TABLE t; SELECT CAST(NULL AS INT", "INT) AS x", "INT) + 1 + CAST(1 AS INT",
                           "INT) AS a FROM read_text('/etc/passwd') WHERE (true"}) {
    Status st = parser_->CheckType(type);
    EXPECT_FALSE(st.ok()) << type;
    if (!st.ok()) {
      EXPECT_THAT(st.error().message, HasSubstr("is not a type")) << type;
    }
  }
}

TEST_F(EmbedTest, TheStatementRunsOnlyAsOneOfTheExpectedType) {
  CheckedSelect q = Checked("SELECT a FROM t");
  Embedding insert = Embedding::Subquery("SELECT a + 10 FROM ", "q", "", "INSERT INTO t ", db::StatementType::kInsert);
  ASSERT_TRUE(parser_->CheckEmbedded(insert.Select(q.text()), q, insert).ok());
  auto rows = conn_->QueryOne(insert.Statement(q.text()), insert.type());
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->at(0, 0), "3");
  EXPECT_THAT(conn_->QueryOne("SELECT 1; DROP TABLE t", db::StatementType::kSelect).error().message,
              HasSubstr("holds 2 statements"));
  EXPECT_THAT(conn_->QueryOne("DROP TABLE t", db::StatementType::kSelect).error().message,
              HasSubstr("refusing to run a DROP statement where a SELECT statement was expected"));
  auto count = conn_->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->at(0, 0), "6");
}

}  // namespace
}  // namespace derived::sql
