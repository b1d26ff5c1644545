// The read-only check of `derived query`, against an in-memory DuckDB with one table.
// Every refused script is also checked to have had no effect: the table and its rows are
// still there and no file was written.
#include "warehouse/duckdb/read_only.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "testing.h"

namespace derived {
namespace {

using ::testing::HasSubstr;

class ReadOnlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Reading a local file is one of the things it checks.
    db::OpenOptions options;
    options.files.directories = {dir_.str()};
    auto db = db::Database::Open(":memory:", options);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto conn = db::Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    ASSERT_TRUE(conn_->Execute("CREATE SCHEMA core; CREATE TABLE core.t AS SELECT range AS a FROM range(3); CREATE "
                               "SEQUENCE core.s")
                    .ok());
  }

  // The refusal for `sql`, or "" when every statement may run.
  std::string Refusal(const std::string& sql) {
    auto script = conn_->Parse(sql);
    EXPECT_TRUE(script.ok()) << sql << ": " << script.error().message;
    if (!script.ok()) return "ERROR";
    auto checked = PrepareReadOnly(*conn_, **script);
    EXPECT_TRUE(checked.ok()) << sql << ": " << checked.error().message;
    if (!checked.ok()) return "ERROR";
    if (!checked->refusal) {
      EXPECT_EQ(checked->prepared.size(), (*script)->size()) << sql;
    }
    return checked->refusal.value_or("");
  }

  int64_t Rows() {
    auto r = conn_->Query("SELECT count(*) FROM core.t");
    return r.ok() ? std::stoll(*r->at(0, 0)) : -1;
  }

  testing::TempDir dir_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
};

TEST_F(ReadOnlyTest, QueriesRun) {
  dir_.Write("in.csv", "a\n1\n");
  for (const std::string& sql : std::vector<std::string>{
           "SELECT * FROM core.t", "SELECT 1; SELECT 2", "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "FROM core.t",
        "VALUES (1)", "TABLE core.t", "(SELECT 1) UNION ALL (SELECT 2)", "DESCRIBE core.t", "SHOW TABLES",
        "SUMMARIZE core.t", "PRAGMA table_info('core.t')", "PRAGMA database_size", "PRAGMA version",
        "EXPLAIN SELECT * FROM core.t", "EXPLAIN ANALYZE SELECT * FROM core.t", "EXPLAIN (FORMAT json) SELECT 1",
        "SELECT * FROM pragma_table_info('core.t')", "SELECT * FROM duckdb_tables()",
        "PIVOT core.t ON a IN (1, 2) USING count(*)", "UNPIVOT (SELECT 1 AS x, 2 AS y) ON x, y",
        "SELECT * FROM read_csv('" + (dir_.path() / "in.csv").string() + "')", "SELECT 1 -- ; DROP TABLE core.t",
        "SELECT ';DROP TABLE core.t;'", "SELECT $$; DROP TABLE core.t; $$"}) {
    EXPECT_EQ(Refusal(sql), "") << sql;
  }
}

TEST_F(ReadOnlyTest, AnythingThatCouldWriteIsRefusedBeforeAnythingRuns) {
  std::string file = (dir_.path() / "out.csv").string();
  std::string dir = (dir_.path() / "export").string();
  struct Case {
    std::string sql, says;
  };
  for (const Case& c : std::vector<Case>{
           {"SELECT 1; DROP TABLE core.t", "statement 2 (`DROP TABLE core.t`) is a DROP statement"},
           {"WITH x AS (SELECT 1 AS a) INSERT INTO core.t SELECT * FROM x", "is an INSERT statement"},
           {"UPDATE core.t SET a = 0", "is an UPDATE statement"},
           {"DELETE FROM core.t", "is a DELETE statement"},
           {"MERGE INTO core.t USING core.t s ON false WHEN NOT MATCHED THEN INSERT VALUES (9)",
            "is a MERGE statement"},
           {"CREATE TEMP TABLE x AS SELECT 1", "is a CREATE statement"},
           {"CREATE SCHEMA _derived", "is a CREATE statement"},
           {"ALTER TABLE core.t ADD COLUMN b INT", "is an ALTER statement"},
           {"COPY (SELECT 1) TO '" + file + "'", "is a COPY statement"},
           {"COPY core.t FROM '" + file + "'", "is a COPY statement"},
           {"EXPORT DATABASE '" + dir + "'", "is an EXPORT statement"},
           {"ATTACH ':memory:' AS m", "is an ATTACH statement"},
           {"DETACH m", "is a DETACH statement"},
           {"SET threads = 1", "is a SET statement"},
           {"RESET threads", "is a RESET statement"},
           {"SET VARIABLE x = 1", "is a SET statement"},
           {"PRAGMA enable_profiling", "is a PRAGMA that sets or does something"},
           {"PRAGMA threads = 2", "is a PRAGMA that sets or does something"},
           {"CALL pragma_table_info('core.t')", "is a CALL statement"},
           {"CHECKPOINT", "is a CHECKPOINT statement"},
           {"FORCE CHECKPOINT", "is a FORCE statement"},
           {"VACUUM", "is a VACUUM statement"},
           {"LOAD json", "is a LOAD statement"},
           {"INSTALL json", "is an INSTALL statement"},
           {"BEGIN", "is a BEGIN statement"},
           {"USE core", "is a USE statement"},
           {"PREPARE p AS DELETE FROM core.t", "is a PREPARE statement"},
           {"COMMENT ON TABLE core.t IS 'x'", "is a COMMENT statement"},
           {"EXPLAIN ANALYZE DELETE FROM core.t", "explains a DELETE statement"},
           {"EXPLAIN DELETE FROM core.t", "explains a DELETE statement"},
           {"EXPLAIN ANALYZE COPY (SELECT 1) TO '" + file + "'", "explains a COPY statement"},
           {"EXPLAIN (ANALYZE) WITH x AS (SELECT 1 AS a) INSERT INTO core.t SELECT * FROM x",
            "is an INSERT statement"},
           {"SELECT * FROM checkpoint()", "calls checkpoint()"},
           {"SELECT * FROM core.t, force_checkpoint()", "calls force_checkpoint()"},
           {"SUMMARIZE SELECT * FROM force_checkpoint()", "calls force_checkpoint()"},
           {"EXPLAIN ANALYZE SELECT * FROM checkpoint()", "calls checkpoint()"},
           {"SELECT * FROM query('SELECT 1')", "calls query()"},
           {"PIVOT core.t ON a USING count(*)", "a PIVOT without IN (...) creates an enum type first"},
       }) {
    std::string refusal = Refusal(c.sql);
    EXPECT_THAT(refusal, HasSubstr(c.says)) << c.sql;
    EXPECT_THAT(refusal, HasSubstr("nothing ran"));
    EXPECT_THAT(refusal, HasSubstr("--write runs the SQL"));
    EXPECT_EQ(Rows(), 3) << c.sql;
  }
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(dir)) << "binding EXPORT creates its directory: it must never be bound";
  auto attached = conn_->Query("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'm'");
  ASSERT_TRUE(attached.ok());
  EXPECT_EQ(*attached->at(0, 0), "0");
}

TEST_F(ReadOnlyTest, AStatementThatDoesNotBindIsAnErrorNotARefusal) {
  auto script = conn_->Parse("SELECT 1; SELECT * FROM core.nope");
  ASSERT_TRUE(script.ok());
  auto checked = PrepareReadOnly(*conn_, **script);
  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.error().message, HasSubstr("statement 2 (`SELECT * FROM core.nope`): Catalog Error"));
}

// DuckDB's own guard behind the checks: inside a READ ONLY transaction a write fails even
// when it is hidden from the statement's type (nextval changes a sequence).
TEST_F(ReadOnlyTest, TheReadOnlyTransactionRefusesWhatTheChecksAllow) {
  EXPECT_EQ(Refusal("SELECT nextval('core.s')"), "");
  ASSERT_TRUE(conn_->Execute("BEGIN TRANSACTION READ ONLY").ok());
  auto r = conn_->Query("SELECT nextval('core.s')");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("read-only"));
  ASSERT_TRUE(conn_->Execute("ROLLBACK").ok());
}

}  // namespace
}  // namespace derived
