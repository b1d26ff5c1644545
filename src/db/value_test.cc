// Typed results and scripts, against an in-memory DuckDB. Expected values are written out
// by hand from DuckDB's documented encodings.
#include "db/value.h"

#include <gtest/gtest.h>

#include "db/duckdb.h"

namespace derived::db {
namespace {

using Kind = Value::Kind;

class TypedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(":memory:");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto conn = Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
  }

  // The one row `sql` returns.
  std::vector<Value> Row(const std::string& sql, TimeStyle style = TimeStyle::kIso) {
    auto script = conn_->Parse(sql);
    EXPECT_TRUE(script.ok()) << script.error().message;
    if (!script.ok()) return {};
    auto stmt = (*script)->Prepare(0);
    EXPECT_TRUE(stmt.ok()) << stmt.error().message;
    if (!stmt.ok()) return {};
    auto result = (*stmt)->ExecuteTyped(style);
    EXPECT_TRUE(result.ok()) << result.error().message;
    if (!result.ok()) return {};
    columns_ = (*result)->columns();
    types_ = (*result)->types();
    auto rows = (*result)->Next();
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    if (!rows.ok() || rows->size() != 1) return {};
    return (*rows)[0];
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  std::vector<std::string> columns_, types_;
};

TEST_F(TypedTest, ScalarsKeepTheirTypes) {
  auto r = Row("SELECT NULL::INTEGER, true, -5::TINYINT, 9223372036854775807, 18446744073709551615::UBIGINT, 1.5::DOUBLE, "
               "2.25::FLOAT, 'x'");
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(r[0].kind, Kind::kNull);
  EXPECT_EQ(r[1].kind, Kind::kBool);
  EXPECT_TRUE(r[1].boolean);
  EXPECT_EQ(r[2].kind, Kind::kInt);
  EXPECT_EQ(r[2].integer, -5);
  EXPECT_EQ(r[3].integer, INT64_MAX);
  EXPECT_EQ(r[4].kind, Kind::kUInt);
  EXPECT_EQ(r[4].unsigned_integer, UINT64_MAX);
  EXPECT_EQ(r[5].kind, Kind::kDouble);
  EXPECT_EQ(r[5].real, 1.5);
  EXPECT_EQ(r[6].real, 2.25);
  EXPECT_EQ(r[7].kind, Kind::kText);
  EXPECT_EQ(r[7].text, "x");
  EXPECT_EQ(types_, (std::vector<std::string>{"INTEGER", "BOOLEAN", "TINYINT", "BIGINT", "UBIGINT", "DOUBLE",
                                               "FLOAT", "VARCHAR"}));
}

TEST_F(TypedTest, WideNumbersStayExact) {
  // 2^127 - 1 and -2^127; 2^128 - 1; decimals of every storage width.
  auto r = Row("SELECT 170141183460469231731687303715884105727::HUGEINT, (-170141183460469231731687303715884105727 - "
               "1)::HUGEINT, 340282366920938463463374607431768211455::UHUGEINT, 1.50::DECIMAL(3,2), "
               "-0.05::DECIMAL(9,2), 12345678901234.5678::DECIMAL(18,4), "
               "12345678901234567890123456789.123456789::DECIMAL(38,9), 0::DECIMAL(4,3)");
  ASSERT_EQ(r.size(), 8u);
  for (const auto& v : r) EXPECT_EQ(v.kind, Kind::kNumber);
  EXPECT_EQ(r[0].text, "170141183460469231731687303715884105727");
  EXPECT_EQ(r[1].text, "-170141183460469231731687303715884105728");
  EXPECT_EQ(r[2].text, "340282366920938463463374607431768211455");
  EXPECT_EQ(r[3].text, "1.50");
  EXPECT_EQ(r[4].text, "-0.05");
  EXPECT_EQ(r[5].text, "12345678901234.5678");
  EXPECT_EQ(r[6].text, "12345678901234567890123456789.123456789");
  EXPECT_EQ(r[7].text, "0.000");
  EXPECT_EQ(types_[3], "DECIMAL(3,2)");
}

TEST_F(TypedTest, DatesAndTimesInBothStyles) {
  const std::string sql =
      "SELECT DATE '2024-01-03', TIMESTAMP '2024-01-03 10:00:00', TIMESTAMP '2024-01-03 10:00:00.25', TIMESTAMPTZ "
      "'2024-01-03 10:00:00+00', TIMESTAMP_NS '2024-01-03 10:00:00.123456789', TIMESTAMP_S '2024-01-03 10:00:01', "
      "TIMESTAMP_MS '2024-01-03 10:00:00.5', TIME '10:00:00.5', TIMETZ '10:00:00+02', 'infinity'::TIMESTAMP, "
      "'-infinity'::DATE";
  auto iso = Row(sql, TimeStyle::kIso);
  ASSERT_EQ(iso.size(), 11u);
  std::vector<std::string> expected_iso = {"2024-01-03",          "2024-01-03T10:00:00",     "2024-01-03T10:00:00.25",
                                           "2024-01-03T10:00:00Z", "2024-01-03T10:00:00.123456789",
                                           "2024-01-03T10:00:01", "2024-01-03T10:00:00.5", "10:00:00.5",
                                           "10:00:00+02",         "infinity",                "-infinity"};
  for (size_t i = 0; i < iso.size(); ++i) {
    EXPECT_EQ(iso[i].kind, Kind::kText) << i;
    EXPECT_EQ(iso[i].text, expected_iso[i]) << i;
  }
  auto sql_style = Row(sql, TimeStyle::kSql);
  EXPECT_EQ(sql_style[1].text, "2024-01-03 10:00:00");
  EXPECT_EQ(sql_style[3].text, "2024-01-03 10:00:00+00");
}

TEST_F(TypedTest, OtherScalarsAsDuckDbWritesThem) {
  ASSERT_TRUE(conn_->Execute("CREATE TYPE mood AS ENUM ('sad', 'happy')").ok());
  auto r = Row("SELECT 'happy'::mood, INTERVAL '14 months 3 days 04:05:06.5', INTERVAL '-3 hours', "
               "'00000000-0000-0000-0000-000000000001'::UUID, '\\xAA\\x01a'::BLOB, '10110'::BIT, "
               "union_value(num := 2)::UNION(num INTEGER, s VARCHAR)");
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0].text, "happy");
  EXPECT_EQ(r[1].text, "1 year 2 months 3 days 04:05:06.5");
  EXPECT_EQ(r[2].text, "-03:00:00");
  EXPECT_EQ(r[3].text, "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(r[4].text, "\\xAA\\x01a");
  EXPECT_EQ(r[5].text, "10110");
  EXPECT_EQ(r[6].kind, Kind::kInt);
  EXPECT_EQ(r[6].integer, 2);
  // DuckDB's own casts agree.
  auto cast = Row("SELECT INTERVAL '14 months 3 days 04:05:06.5'::VARCHAR, '\\xAA\\x01a'::BLOB::VARCHAR, "
                  "'10110'::BIT::VARCHAR");
  EXPECT_EQ(cast[0].text, r[1].text);
  EXPECT_EQ(cast[1].text, r[4].text);
  EXPECT_EQ(cast[2].text, r[5].text);
}

TEST_F(TypedTest, NestedValuesKeepTheirShape) {
  auto r = Row("SELECT [1, NULL, 3], {'a': 1, 'b': ['x']}, MAP {'k': 1, 'j': 2}, [[1], [2, 3]]::INTEGER[][], "
               "[1, 2]::INTEGER[2], []::INTEGER[]");
  ASSERT_EQ(r.size(), 6u);
  ASSERT_EQ(r[0].kind, Kind::kList);
  ASSERT_EQ(r[0].items.size(), 3u);
  EXPECT_EQ(r[0].items[0].integer, 1);
  EXPECT_EQ(r[0].items[1].kind, Kind::kNull);
  ASSERT_EQ(r[1].kind, Kind::kStruct);
  EXPECT_EQ(r[1].names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r[1].items[1].items[0].text, "x");
  ASSERT_EQ(r[2].kind, Kind::kMap);
  ASSERT_EQ(r[2].items.size(), 4u);
  EXPECT_EQ(r[2].items[0].text, "k");
  EXPECT_EQ(r[2].items[3].integer, 2);
  EXPECT_EQ(r[3].items[1].items[1].integer, 3);
  ASSERT_EQ(r[4].kind, Kind::kList);
  EXPECT_EQ(r[4].items[1].integer, 2);
  EXPECT_TRUE(r[5].items.empty());
  EXPECT_EQ(types_[1], "STRUCT(a INTEGER, b VARCHAR[])");
  EXPECT_EQ(types_[2], "MAP(VARCHAR, INTEGER)");
  EXPECT_EQ(types_[4], "INTEGER[2]");
}

TEST_F(TypedTest, ManyChunksAndNestedRowsAcrossThem) {
  auto script = conn_->Parse("SELECT range AS i, [range, range + 1] AS l FROM range(5000)");
  ASSERT_TRUE(script.ok());
  auto stmt = (*script)->Prepare(0);
  ASSERT_TRUE(stmt.ok());
  auto result = (*stmt)->ExecuteTyped(TimeStyle::kIso);
  ASSERT_TRUE(result.ok());
  int64_t n = 0;
  while (true) {
    auto rows = (*result)->Next();
    ASSERT_TRUE(rows.ok());
    if (rows->empty()) break;
    for (const auto& row : *rows) {
      ASSERT_EQ(row[0].integer, n);
      ASSERT_EQ(row[1].items[1].integer, n + 1);
      ++n;
    }
  }
  EXPECT_EQ(n, 5000);
}

TEST_F(TypedTest, ScriptsSplitByDuckDbWithTheirTexts) {
  auto script = conn_->Parse("SELECT 1; -- a; comment\nSELECT ';' AS x;;  CREATE TABLE t (a INT)");
  ASSERT_TRUE(script.ok());
  ASSERT_EQ((*script)->size(), 3u);
  EXPECT_EQ((*script)->text(0), "SELECT 1");
  EXPECT_EQ((*script)->text(1), "-- a; comment\nSELECT ';' AS x");
  EXPECT_EQ((*script)->text(2), "CREATE TABLE t (a INT)");
  EXPECT_TRUE((*script)->text_is_whole(2));
  auto create = (*script)->Prepare(2);
  ASSERT_TRUE(create.ok());
  EXPECT_EQ((*create)->type(), StatementType::kCreate);
  EXPECT_EQ(StatementTypeName((*create)->type()), "CREATE");
  // Binding needs what earlier statements create: nothing has run yet.
  auto later = conn_->Parse("CREATE TABLE u (a INT); INSERT INTO u VALUES (1)");
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE((*later)->Prepare(1).ok());

  // One piece of text, two statements: DuckDB makes an enum type for a PIVOT without IN.
  ASSERT_TRUE(conn_->Execute("CREATE TABLE p AS SELECT 'a' AS k, 1 AS v").ok());
  auto pivot = conn_->Parse("PIVOT p ON k USING sum(v)");
  ASSERT_TRUE(pivot.ok());
  ASSERT_EQ((*pivot)->size(), 2u);
  EXPECT_EQ((*pivot)->text(0), "PIVOT p ON k USING sum(v)");
  EXPECT_FALSE((*pivot)->text_is_whole(0));

  auto bad = conn_->Parse("SELEC 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos);
  auto empty = conn_->Parse(" -- nothing\n;");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)->size(), 0u);
}

}  // namespace
}  // namespace derived::db
