#include "sql/column_lineage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "db/duckdb.h"
#include "sql/parser.h"

namespace derived::sql {
namespace {

// Tables resolve to "main.<name>" unless qualified; columns come from a fixed map.
class FakeSchemas : public SchemaLookup {
 public:
  std::map<std::string, std::vector<std::string>> columns;
  std::string Resolve(const TableRef& ref) const override {
    return (ref.schema.empty() ? "main" : ref.schema) + "." + ref.table;
  }
  const std::vector<std::string>* Columns(const std::string& q) const override {
    auto it = columns.find(q);
    return it == columns.end() ? nullptr : &it->second;
  }
};

class LineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(*db::Database::Open(":memory:"));
    conn_ = std::move(*db::Connection::Open(*db_));
    parser_ = std::move(*SqlParser::Create(conn_.get()));
    schemas_.columns["main.users"] = {"user_id", "name", "platform", "created_at"};
    schemas_.columns["main.events"] = {"user_id", "kind", "ts", "value"};
    schemas_.columns["raw.orders"] = {"order_id", "user_id", "amount"};
  }

  // "output <- t.c, t.d" per column; "?" marks ambiguity.
  std::vector<std::string> Lineage(const std::string& sql) {
    auto l = parser_->Lineage(sql, schemas_);
    EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
    std::vector<std::string> out;
    if (!l.ok()) return out;
    for (const auto& c : l->columns) {
      std::string s = c.name + " <-";
      for (const auto& in : c.inputs) s += " " + in.table + "." + in.column;
      if (c.ambiguous) s += " ?";
      out.push_back(s);
    }
    return out;
  }

  FakeSchemas schemas_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<SqlParser> parser_;
};

using ::testing::ElementsAre;

TEST_F(LineageTest, DirectColumnsAndExpressions) {
  EXPECT_THAT(Lineage("select user_id, upper(name) as n, user_id * 2 + length(platform) as x, 1 as one from users"),
              ElementsAre("user_id <- main.users.user_id", "n <- main.users.name",
                          "x <- main.users.platform main.users.user_id", "one <-"));
}

TEST_F(LineageTest, JoinsResolveAliasesAndUnqualifiedNames) {
  EXPECT_THAT(Lineage("select u.name, kind, e.ts as when_ from users u join events e on u.user_id = e.user_id"),
              ElementsAre("name <- main.users.name", "kind <- main.events.kind", "when_ <- main.events.ts"));
}

TEST_F(LineageTest, UsingColumnComesFromBothSides) {
  EXPECT_THAT(Lineage("select user_id from users join events using (user_id)"),
              ElementsAre("user_id <- main.events.user_id main.users.user_id"));
}

TEST_F(LineageTest, AggregatesAndWindows) {
  EXPECT_THAT(Lineage("select platform, count(*) as n, sum(value) over (partition by kind) as s "
                      "from users join events using (user_id) group by all"),
              ElementsAre("platform <- main.users.platform", "n <-",
                          "s <- main.events.kind main.events.value"));
}

TEST_F(LineageTest, ThroughCtesAndSubqueries) {
  EXPECT_THAT(Lineage("with a as (select user_id, amount * 2 as doubled from raw.orders) "
                      "select b.doubled as d, u.name from (select * from a) b join users u using (user_id)"),
              ElementsAre("d <- raw.orders.amount", "name <- main.users.name"));
}

TEST_F(LineageTest, StarExpandsKnownColumns) {
  EXPECT_THAT(Lineage("select * exclude (value) from events"),
              ElementsAre("user_id <- main.events.user_id", "kind <- main.events.kind", "ts <- main.events.ts"));
  EXPECT_THAT(Lineage("select o.* from raw.orders o"),
              ElementsAre("order_id <- raw.orders.order_id", "user_id <- raw.orders.user_id",
                          "amount <- raw.orders.amount"));
}

TEST_F(LineageTest, StarOverUnknownColumnsIsAmbiguous) {
  auto l = parser_->Lineage("select * from mystery m join users u using (user_id)", schemas_);
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->columns_known);
  ASSERT_FALSE(l->columns.empty());
  EXPECT_EQ(l->columns[0].name, "*");
  EXPECT_TRUE(l->columns[0].ambiguous);
  EXPECT_THAT(l->columns[0].note, ::testing::HasSubstr("main.mystery"));
}

TEST_F(LineageTest, UnknownTableColumnsAreTakenByName) {
  EXPECT_THAT(Lineage("select a, b + 1 as c from mystery"),
              ElementsAre("a <- main.mystery.a", "c <- main.mystery.b"));
}

TEST_F(LineageTest, UnresolvableNameBetweenTwoUnknownTablesIsAmbiguous) {
  EXPECT_THAT(Lineage("select a from m1, m2"), ElementsAre("a <- ?"));
}

TEST_F(LineageTest, SetOperationsMergePositionally) {
  EXPECT_THAT(Lineage("select user_id as id from users union all select order_id from raw.orders"),
              ElementsAre("id <- main.users.user_id raw.orders.order_id"));
}

TEST_F(LineageTest, ScalarSubqueryAndCorrelation) {
  EXPECT_THAT(Lineage("select u.name, (select max(amount) from raw.orders o where o.user_id = u.user_id) as top "
                      "from users u"),
              ElementsAre("name <- main.users.name", "top <- raw.orders.amount"));
}

TEST_F(LineageTest, LambdaParametersAreNotColumns) {
  EXPECT_THAT(Lineage("select list_transform([1, 2], x -> x + value) as l from events"),
              ElementsAre("l <- main.events.value"));
}

TEST_F(LineageTest, LateralColumnAlias) {
  EXPECT_THAT(Lineage("select amount * 2 as a2, a2 + 1 as a3 from raw.orders"),
              ElementsAre("a2 <- raw.orders.amount", "a3 <- raw.orders.amount"));
}

TEST_F(LineageTest, RecursiveCte) {
  EXPECT_THAT(Lineage("with recursive r as (select user_id as n from users union all select n + 1 from r "
                      "where n < 3) select n from r"),
              ElementsAre("n <- main.users.user_id"));
}

}  // namespace
}  // namespace derived::sql
