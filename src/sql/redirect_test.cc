// SqlParser::Redirect: references renamed in the statement tree, checked by running the
// rewritten query against tables whose contents tell which one it read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "db/duckdb.h"
#include "sql/parser.h"

namespace derived::sql {
namespace {

using ::testing::HasSubstr;

class RedirectTest : public ::testing::TestWithParam<SqlParser::Printing> {
 protected:
  void SetUp() override {
    db_ = std::move(*db::Database::Open(":memory:"));
    conn_ = std::move(*db::Connection::Open(*db_));
    parser_ = std::move(*SqlParser::Create(conn_.get()));
    // Production and a shadow copy, told apart by their rows.
    ASSERT_TRUE(conn_->Execute("CREATE SCHEMA core; CREATE SCHEMA shadow__x__core; CREATE SCHEMA raw; "
                               "CREATE TABLE core.orders AS SELECT 'prod' AS side, 1 AS id; "
                               "CREATE TABLE shadow__x__core.orders AS SELECT 'shadow' AS side, 1 AS id; "
                               "CREATE TABLE raw.users AS SELECT 1 AS id, 'ann' AS name")
                    .ok());
  }

  const std::map<std::string, TableRef> kToShadow = {{"core.orders", TableRef{"", "shadow__x__core", "orders", 0}}};

  std::string Redirected(const std::string& sql) {
    auto out = parser_->Redirect(sql, kToShadow, GetParam());
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().ToString());
    return out.ok() ? *out : "";
  }
  // The query's rows, "a|b" each, in order.
  std::vector<std::string> Rows(const std::string& sql) {
    auto rows = conn_->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << ": " << (rows.ok() ? "" : rows.error().ToString());
    std::vector<std::string> out;
    if (!rows.ok()) return out;
    for (const auto& r : rows->rows) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) line += (i ? "|" : "") + r[i].value_or("NULL");
      out.push_back(line);
    }
    return out;
  }

  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<SqlParser> parser_;
};

TEST_P(RedirectTest, AReferenceReadsTheOtherTable) {
  EXPECT_EQ(Rows(Redirected("SELECT side FROM core.orders")), std::vector<std::string>{"shadow"});
}

TEST_P(RedirectTest, JoinsSubqueriesAndSetOperationsAreRenamedAndOtherTablesLeftAlone) {
  const std::string sql =
      "SELECT o.side, u.name FROM core.orders o JOIN raw.users u ON o.id = u.id "
      "WHERE o.id IN (SELECT id FROM core.orders) UNION ALL SELECT side, 'x' FROM (SELECT * FROM core.orders) s";
  EXPECT_EQ(Rows(Redirected(sql)), (std::vector<std::string>{"shadow|ann", "shadow|x"}));
}

TEST_P(RedirectTest, ACteOfTheSameNameStringsAndCommentsAreNotTouched) {
  const std::string sql =
      "WITH orders AS (SELECT 'cte' AS side) SELECT orders.side, 'core.orders' AS s FROM orders "
      "UNION ALL SELECT side, 'core.orders' FROM core.orders -- core.orders\n";
  std::string out = Redirected(sql);
  EXPECT_EQ(Rows(out), (std::vector<std::string>{"cte|core.orders", "shadow|core.orders"}));
}

TEST_P(RedirectTest, ColumnsQualifiedByTheOldNameStillResolve) {
  EXPECT_EQ(Rows(Redirected("SELECT orders.side FROM core.orders WHERE orders.id = 1")),
            std::vector<std::string>{"shadow"});
}

TEST_P(RedirectTest, NothingToRenameGivesTheQueryBack) {
  auto out = parser_->Redirect("SELECT name FROM raw.users;", kToShadow, GetParam());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "SELECT name FROM raw.users");
}

TEST_P(RedirectTest, WhatIsNotOneSelectIsRefused) {
  auto out = parser_->Redirect("DELETE FROM core.orders", kToShadow, GetParam());
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.error().message, HasSubstr("one SELECT"));
  out = parser_->Redirect("SELECT 1; SELECT side FROM core.orders", kToShadow, GetParam());
  ASSERT_FALSE(out.ok());
}

TEST_P(RedirectTest, QuotedAndSpacedNamesAreRenamed) {
  EXPECT_EQ(Rows(Redirected("SELECT o.side FROM \"core\" . \"orders\" AS o")), std::vector<std::string>{"shadow"});
  EXPECT_EQ(Rows(Redirected("SELECT side FROM core\n  .orders")), std::vector<std::string>{"shadow"});
}

TEST(RedirectSample, InPlaceASubquerySamplesTheReferenceInPostgreSQLsSpelling) {
  auto db = std::move(*db::Database::Open(":memory:"));
  auto conn = std::move(*db::Connection::Open(*db));
  auto parser = std::move(*SqlParser::Create(conn.get()));
  SqlParser::Sample sample{1.5, 42, {"raw.big", "core.orders"}};
  const std::map<std::string, TableRef> to = {{"core.orders", TableRef{"", "shadow__x__core", "orders", 0}}};
  auto out = parser->Redirect("SELECT count(*) FROM raw.big b, core.orders -- raw.big\n", to,
                              SqlParser::Printing::kInPlace, &sample);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out,
            "SELECT count(*) FROM (SELECT * FROM raw.big TABLESAMPLE BERNOULLI (1.5) REPEATABLE (42)) b, (SELECT * FROM "
            "\"shadow__x__core\".\"orders\" TABLESAMPLE BERNOULLI (1.5) REPEATABLE (42)) AS orders -- raw.big");
}

TEST(RedirectInPlace, TheAliasGivenIsTheOldNameAsWritten) {
  auto db = std::move(*db::Database::Open(":memory:"));
  auto conn = std::move(*db::Connection::Open(*db));
  auto parser = std::move(*SqlParser::Create(conn.get()));
  const std::map<std::string, TableRef> to = {{"core.orders", TableRef{"", "shadow__x__core", "orders", 0}}};
  auto out = parser->Redirect("SELECT Orders.id FROM Core.Orders UNION ALL SELECT \"Orders\".id FROM core.\"Orders\"", to,
                              SqlParser::Printing::kInPlace);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out, "SELECT Orders.id FROM \"shadow__x__core\".\"orders\" AS Orders UNION ALL SELECT \"Orders\".id FROM "
                  "\"shadow__x__core\".\"orders\" AS \"Orders\"");
}

// The tree's sample, run by DuckDB (the text in place is PostgreSQL's: above).
TEST(RedirectSample, TheTreesSampleReadsARepeatableShareOfTheRows) {
  auto db = std::move(*db::Database::Open(":memory:"));
  auto conn = std::move(*db::Connection::Open(*db));
  auto parser = std::move(*SqlParser::Create(conn.get()));
  ASSERT_TRUE(conn->Execute("CREATE SCHEMA raw; CREATE TABLE raw.big AS SELECT i AS id FROM range(20000) t(i); "
                            "CREATE TABLE raw.small AS SELECT 1 AS id")
                  .ok());
  auto count = [&](const std::string& sql) {
    auto rows = conn->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << ": " << (rows.ok() ? "" : rows.error().ToString());
    return rows.ok() && rows->size() == 1 ? std::stoi(rows->at(0, 0).value_or("-1")) : -1;
  };
  SqlParser::Sample sample{10, 42, {"raw.big"}};
  auto out = parser->Redirect("SELECT count(*) AS n FROM raw.big b JOIN raw.small s ON true", {},
                              SqlParser::Printing::kTree, &sample);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  int n = count(*out);
  EXPECT_GT(n, 1500) << *out;
  EXPECT_LT(n, 2500) << *out;
  EXPECT_EQ(count(*out), n);  // the same rows every time
  // What is not named is read whole; a share out of range is refused.
  out = parser->Redirect("SELECT count(*) FROM raw.small", {}, SqlParser::Printing::kTree, &sample);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(count(*out), 1);
  SqlParser::Sample none{0, 1, {"raw.big"}};
  EXPECT_FALSE(parser->Redirect("SELECT * FROM raw.big", {}, SqlParser::Printing::kTree, &none).ok());
}

INSTANTIATE_TEST_SUITE_P(Printings, RedirectTest,
                         ::testing::Values(SqlParser::Printing::kTree, SqlParser::Printing::kInPlace),
                         [](const auto& info) {
                           return std::string(info.param == SqlParser::Printing::kTree ? "Tree" : "InPlace");
                         });

// In place, only the references change: what PostgreSQL's parser reads is the user's text.
TEST(RedirectInPlace, TheRestOfTheTextStaysAsWritten) {
  auto db = std::move(*db::Database::Open(":memory:"));
  auto conn = std::move(*db::Connection::Open(*db));
  auto parser = std::move(*SqlParser::Create(conn.get()));
  const std::map<std::string, TableRef> to = {{"core.orders", TableRef{"", "shadow__x__core", "orders", 0}},
                                              {"orders", TableRef{"", "shadow__x__core", "orders", 0}}};
  auto out = parser->Redirect("SELECT count(*) AS n -- from core.orders\nFROM core.orders o, orders WHERE o.id > 0;",
                              to, SqlParser::Printing::kInPlace);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out,
            "SELECT count(*) AS n -- from core.orders\nFROM \"shadow__x__core\".\"orders\" o, "
            "\"shadow__x__core\".\"orders\" AS orders WHERE o.id > 0");
}

}  // namespace
}  // namespace derived::sql
