// The online store's byte formats (issue: online export and feature serving). Both are
// versioned and byte-stable: the same values always give the same bytes, so re-exporting
// a window writes the same bytes, and a reader of one format version refuses another.
//
// Key: the format version (one byte), then each key column in key order as a type tag
// and its payload, integers and doubles in 8 big-endian bytes, text length-prefixed
// (4 big-endian bytes). Value: the format version, the table's schema fingerprint (so a
// reader never decodes one schema's bytes as another's), the data version it came from
// (so an older mutation never overwrites a newer one), when it expires (0: never), then
// every column, tagged like key parts, lists, structs and maps nested.
// Pure: no store, no engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sql/column.h"
#include "util/status.h"
#include "util/typed_rows.h"

namespace derived::online {

inline constexpr uint8_t kKeyFormat = 1;
inline constexpr uint8_t kValueFormat = 1;
// The largest encoded value or key part accepted (a bound on what a corrupt length may ask for).
inline constexpr size_t kMaxEncodedBytes = size_t{16} << 20;

// Key columns may be null, booleans, integers, doubles, exact numbers or text; a list,
// struct or map is refused (naming its position).
Result<std::string> EncodeKey(const std::vector<TypedValue>& parts);
Result<std::vector<TypedValue>> DecodeKey(std::string_view bytes);

struct Value {
  uint64_t schema = 0;          // SchemaFingerprint of the table's columns
  int64_t data_version = 0;     // the table's data version the value was exported from
  int64_t expires_at = 0;       // seconds since the epoch; 0: never
  std::vector<TypedValue> columns;
};
Result<std::string> EncodeValue(const Value& value);
// An error for bytes of another format version, truncated or trailing bytes, or nesting
// deeper than 64.
Result<Value> DecodeValue(std::string_view bytes);

// A fingerprint of column names and types, in order.
uint64_t SchemaFingerprint(const std::vector<OutputColumn>& columns);

}  // namespace derived::online
