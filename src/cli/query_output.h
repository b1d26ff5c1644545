// How `derived query` prints what its statements return.
//
// Text: each result as a column-aligned table (EXPLAIN as its plan); with several
// statements, each result is headed by "-- N: <statement>" and separated by a blank line.
//
// JSON lines: one object per row, column name to value. With several statements, each
// line is {"statement": N, "row": {...}} instead (N from 1), so no column name can clash.
// Values keep their SQL types (as far as the engine says: warehouse/postgres/script.h):
// numbers are JSON numbers written with every digit the engine holds (HUGEINT and DECIMAL too, never rounded through a double; a reader that parses
// numbers as doubles may round them, so cast to VARCHAR for text), NaN and infinities
// are the strings "NaN", "Infinity" and "-Infinity"; booleans, null; dates and times are
// ISO-8601 strings ("2024-01-03T10:00:00", with "Z" for TIMESTAMP WITH TIME ZONE);
// lists and arrays are arrays, structs objects, maps objects keyed by the keys' text;
// everything else (intervals, UUIDs, blobs) is the engine's text. Repeated column names get
// a suffix ("a", "a_1").
#pragma once

#include <iosfwd>
#include <string>

#include "util/typed_rows.h"
#include "util/status.h"

namespace derived::cli {

enum class QueryFormat { kText, kJson };

class ResultPrinter {
 public:
  // `statements`: how many the script has (a single one prints as before: no headers).
  ResultPrinter(QueryFormat format, size_t statements, std::ostream& out)
      : format_(format), statements_(statements), out_(out) {}

  // Prints the result of statement `index` (0-based), whose text is `text` ("" when
  // unknown). An error when a value cannot be read; what was printed stays.
  derived::Status Print(size_t index, const std::string& text, TypedRows& result);

 private:
  QueryFormat format_;
  size_t statements_;
  std::ostream& out_;
  size_t printed_ = 0;  // results printed so far (text: a blank line goes between them)
};

// `v` as JSON text, appended to *out (see above).
void AppendJson(const TypedValue& v, std::string* out);

// `v` for a terminal: scalars as DuckDB casts them to VARCHAR, nested values as DuckDB
// writes them ("[1, 2]", "{'a': x}", "{k=v}").
std::string DisplayText(const TypedValue& v);

}  // namespace derived::cli
