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
#include "util/typed_rows.h"

namespace derived::db {

using ::derived::ResultKind;
using ::derived::TimeStyle;
using Value = ::derived::TypedValue;

// A result read one chunk at a time, so printing a large result needs little memory.
// Owns the DuckDB result. Not thread-safe.
class TypedResult final : public TypedRows {
 public:
  // Takes ownership of `result` (a successful one) and zeroes the caller's copy.
  static Result<std::unique_ptr<TypedResult>> Adopt(duckdb_result* result, TimeStyle style);
  ~TypedResult() override;
  TypedResult(const TypedResult&) = delete;
  TypedResult& operator=(const TypedResult&) = delete;

  const std::vector<std::string>& columns() const override { return columns_; }
  const std::vector<std::string>& types() const override { return types_; }  // DuckDB's type names
  ResultKind kind() const override { return kind_; }

  // The next rows (up to one chunk); empty once all were read. An error for a type
  // this reader cannot decode, naming the column.
  Result<std::vector<std::vector<Value>>> Next() override;

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
