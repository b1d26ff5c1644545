#include "cli/query_output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "warehouse/duckdb/warehouse.h"

namespace derived::cli {
namespace {

using Kind = TypedValue::Kind;

TypedValue Make(Kind kind, std::string text = "") {
  TypedValue v;
  v.kind = kind;
  v.text = std::move(text);
  return v;
}

std::string Json(const TypedValue& v) {
  std::string out;
  AppendJson(v, &out);
  return out;
}

TEST(QueryOutput, JsonKeepsTypesAndEveryDigit) {
  TypedValue i = Make(Kind::kInt);
  i.integer = -9223372036854775807 - 1;
  EXPECT_EQ(Json(i), "-9223372036854775808");
  TypedValue u = Make(Kind::kUInt);
  u.unsigned_integer = 18446744073709551615u;
  EXPECT_EQ(Json(u), "18446744073709551615");
  EXPECT_EQ(Json(Make(Kind::kNumber, "170141183460469231731687303715884105727")),
            "170141183460469231731687303715884105727");
  EXPECT_EQ(Json(Make(Kind::kNumber, "-0.05")), "-0.05");
  TypedValue d = Make(Kind::kDouble);
  d.real = 0.1;
  EXPECT_EQ(Json(d), "0.1");
  d.real = 1e300;
  EXPECT_EQ(nlohmann::json::parse(Json(d)).get<double>(), 1e300);
  d.real = std::nan("");
  EXPECT_EQ(Json(d), "\"NaN\"");
  d.real = -HUGE_VAL;
  EXPECT_EQ(Json(d), "\"-Infinity\"");
  TypedValue b = Make(Kind::kBool);
  EXPECT_EQ(Json(b), "false");
  EXPECT_EQ(Json(Make(Kind::kNull)), "null");
  EXPECT_EQ(Json(Make(Kind::kText, "a\"b\n\x01")), "\"a\\\"b\\n\\u0001\"");
  EXPECT_EQ(Json(Make(Kind::kText, "\xff")), "\"\xef\xbf\xbd\"");  // not UTF-8: U+FFFD
}

TEST(QueryOutput, NestedValuesAsJsonAndText) {
  TypedValue list = Make(Kind::kList);
  TypedValue one = Make(Kind::kInt);
  one.integer = 1;
  list.items = {one, Make(Kind::kNull), Make(Kind::kText, "a,b")};
  EXPECT_EQ(Json(list), "[1,null,\"a,b\"]");
  EXPECT_EQ(DisplayText(list), "[1, NULL, 'a,b']");

  TypedValue st = Make(Kind::kStruct);
  st.names = {"x", "it's"};
  st.items = {Make(Kind::kText, "plain"), list};
  EXPECT_EQ(Json(st), "{\"x\":\"plain\",\"it's\":[1,null,\"a,b\"]}");
  EXPECT_EQ(DisplayText(st), "{'x': plain, 'it\\'s': [1, NULL, 'a,b']}");

  TypedValue map = Make(Kind::kMap);
  map.items = {one, Make(Kind::kText, "v"), Make(Kind::kText, "k"), Make(Kind::kNull)};
  EXPECT_EQ(Json(map), "{\"1\":\"v\",\"k\":null}");
  EXPECT_EQ(DisplayText(map), "{1=v, k=NULL}");
  EXPECT_EQ(DisplayText(Make(Kind::kList)), "[]");
}

class PrinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wh = OpenDuckDbWarehouse(":memory:", db::FileAccess::Unrestricted());
    ASSERT_TRUE(wh.ok());
    wh_ = std::move(*wh);
  }

  std::string Print(const std::string& sql, QueryFormat format) {
    auto opened = wh_->OpenScript(sql, ScriptAccess::kWrite, format == QueryFormat::kJson ? TimeStyle::kIso : TimeStyle::kSql);
    EXPECT_TRUE(opened.ok() && opened->script);
    UserScript& script = *opened->script;
    std::ostringstream out;
    ResultPrinter printer(format, script.size(), out);
    for (size_t i = 0; i < script.size(); ++i) {
      auto result = script.Run(i);
      EXPECT_TRUE(result.ok()) << result.error().message;
      EXPECT_TRUE(printer.Print(i, script.text(i), **result).ok());
    }
    return out.str();
  }

  std::unique_ptr<Warehouse> wh_;
};

TEST_F(PrinterTest, OneStatementPrintsAsBefore) {
  EXPECT_EQ(Print("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 10, NULL", QueryFormat::kText), "a   b\n1   x\n10  NULL\n");
  EXPECT_EQ(Print("SELECT 1 AS a, 2 AS a, 3 AS a_1", QueryFormat::kJson), "{\"a\":1,\"a_2\":2,\"a_1\":3}\n");
}

TEST_F(PrinterTest, EveryStatementPrintsInOrderAndSaysWhichItIs) {
  EXPECT_EQ(Print("SELECT 1 AS a; SELECT 2 AS b FROM range(2)", QueryFormat::kText),
            "-- 1: SELECT 1 AS a\na\n1\n\n-- 2: SELECT 2 AS b FROM range(2)\nb\n2\n2\n");
  EXPECT_EQ(Print("SELECT 1 AS a; SELECT 2 AS statement, 'x' AS row", QueryFormat::kJson),
            "{\"statement\":1,\"row\":{\"a\":1}}\n{\"statement\":2,\"row\":{\"statement\":2,\"row\":\"x\"}}\n");
  // A statement that returns nothing prints nothing.
  EXPECT_EQ(Print("CREATE TABLE t (a INT); SELECT count(*) AS n FROM t", QueryFormat::kJson),
            "{\"statement\":2,\"row\":{\"n\":0}}\n");
}

}  // namespace
}  // namespace derived::cli
