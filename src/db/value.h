// Query results with their types kept. db::Rows renders every value as text, which is
// all that catalog queries need; a user's query printed as JSON needs to know a number
// from a string, and lists and structs need their shape.
#pragma once

#define DUCKDB_API_NO_DEPRECATED
#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace derived::db {

// How dates and times become text: as DuckDB casts them to VARCHAR
// ("2024-01-03 10:00:00", for terminals), or ISO-8601 ("2024-01-03T10:00:00", for JSON;
// TIMESTAMP WITH TIME ZONE gets a "Z", since sessions run in UTC).
enum class TimeStyle { kSql, kIso };

// One value of a result.
struct Value {
  enum class Kind {
    kNull,
    kBool,
    kInt,     // TINYINT to BIGINT
    kUInt,    // UTINYINT to UBIGINT
    kDouble,  // FLOAT, DOUBLE
    kNumber,  // HUGEINT, UHUGEINT, DECIMAL: exact decimal digits in `text`, never rounded
    kText,    // VARCHAR, BLOB (escaped as DuckDB does), ENUM, UUID, dates and times, ...
    kList,    // LIST and ARRAY: `items`
    kStruct,  // `names` and `items`, in field order
    kMap,     // `items` holds key, value, key, value, ...
  };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double real = 0;
  std::string text;
  std::vector<Value> items;
  std::vector<std::string> names;
};

// What a statement returned.
enum class ResultKind { kRows, kChangedRows, kNothing };

// A result read one chunk at a time, so printing a large result needs little memory.
// Owns the DuckDB result. Not thread-safe.
class TypedResult {
 public:
  // Takes ownership of `result` (a successful one) and zeroes the caller's copy.
  static Result<std::unique_ptr<TypedResult>> Adopt(duckdb_result* result, TimeStyle style);
  ~TypedResult();
  TypedResult(const TypedResult&) = delete;
  TypedResult& operator=(const TypedResult&) = delete;

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::string>& types() const { return types_; }  // DuckDB's type names
  ResultKind kind() const { return kind_; }

  // The next rows (up to one chunk); empty once all were read. An error for a type
  // this reader cannot decode, naming the column.
  Result<std::vector<std::vector<Value>>> Next();

  struct Type;  // how to decode a column (value.cc)

 private:
  TypedResult() = default;
  duckdb_result result_{};
  TimeStyle style_ = TimeStyle::kSql;
  ResultKind kind_ = ResultKind::kRows;
  std::vector<std::string> columns_, types_;
  std::vector<std::shared_ptr<const Type>> decoders_;
};

// A type as DuckDB writes it ("DECIMAL(18,3)", "INTEGER[]", "STRUCT(a INTEGER)").
std::string TypeName(duckdb_logical_type type);

// Text forms shared with db::Rows, matching DuckDB's own casts to VARCHAR.
std::string HugeIntText(duckdb_hugeint v);
std::string UHugeIntText(duckdb_uhugeint v);
std::string DecimalText(std::string digits, uint8_t scale);  // ("123", 2) -> "1.23"
std::string IntervalText(duckdb_interval v);                 // "1 year 2 months 3 days 04:05:06.5"
std::string UuidText(duckdb_hugeint v);
std::string BlobText(std::string_view bytes);                // printable ASCII kept, others \xAA
// (5, 6) -> ".000005", (500000, 6) -> ".5", 0 -> "": fractional seconds.
std::string FractionText(int64_t value, int digits);

}  // namespace derived::db
