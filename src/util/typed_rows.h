// Query results with their types kept, read a chunk at a time: what `derived query`
// prints, from any engine. util/rows.h renders every value as text instead, which is all
// Derived's own catalog reads need; a user's query printed as JSON needs to know a number
// from a string, and lists and structs need their shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace derived {

// How dates and times become text: as the engine casts them to text
// ("2024-01-03 10:00:00", for terminals), or ISO-8601 ("2024-01-03T10:00:00", for JSON;
// TIMESTAMP WITH TIME ZONE gets a "Z", since sessions run in UTC).
enum class TimeStyle { kSql, kIso };

// One value of a result.
struct TypedValue {
  enum class Kind {
    kNull,
    kBool,
    kInt,     // 8- to 64-bit integers
    kUInt,    // unsigned ones
    kDouble,  // FLOAT, DOUBLE
    kNumber,  // 128-bit integers, DECIMAL / NUMERIC: exact decimal digits in `text`, never rounded
    kText,    // strings, and every type shown as the engine's text (dates, UUIDs, intervals, ...)
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
  std::vector<TypedValue> items;
  std::vector<std::string> names;
};

// What a statement returned: rows, a count of changed rows (one row, one column
// "Count"), or nothing to show (DDL, SET).
enum class ResultKind { kRows, kChangedRows, kNothing };

// A result read one chunk at a time, so printing a large result needs little memory.
// Owns what the engine holds for it. Not thread-safe.
class TypedRows {
 public:
  virtual ~TypedRows() = default;
  virtual const std::vector<std::string>& columns() const = 0;
  virtual const std::vector<std::string>& types() const = 0;  // the engine's type names
  virtual ResultKind kind() const = 0;
  // The next rows (up to one chunk); empty once all were read. An error for a value
  // that cannot be read, naming the column.
  virtual Result<std::vector<std::vector<TypedValue>>> Next() = 0;
};

}  // namespace derived
