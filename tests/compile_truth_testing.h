// Helpers for the end-to-end tests of what `validate` and `dag` say (compile_truth*_test.cc):
// expected locations are found by scanning the project's files for a marker, never by
// asking the code under test.
#pragma once

#include <string>

#include "testing.h"

namespace derived::testing {

// "file:line:column" of the first `marker` in the project file `file`, the column counted
// in characters; with `nth`, its nth occurrence.
inline std::string Where(const TempDir& dir, const std::string& file, const std::string& marker,
                         int nth = 1) {
  std::string text = dir.Read(file);
  size_t at = std::string::npos;
  for (int i = 0; i < nth; ++i) at = text.find(marker, at == std::string::npos ? 0 : at + 1);
  if (at == std::string::npos) return "(" + marker + " is not in " + file + ")";
  int line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// "file:line" of the first `marker` in `file`.
inline std::string LineOf(const TempDir& dir, const std::string& file, const std::string& marker) {
  std::string w = Where(dir, file, marker);
  return w.substr(0, w.rfind(':'));
}

// A project with one source, raw.orders, with declared columns.
inline void WriteBase(const TempDir& dir) {
  dir.Write("derived.yaml", "name: truth\ndefaults: {start: 2024-01-01}\n");
  dir.Write(
      "sources/raw/orders.yaml",
      "freshness: marker\ncolumns:\n  - {name: order_id, type: BIGINT}\n  - {name: user_id, type: BIGINT}\n"
      "  - {name: amount, type: DOUBLE}\n  - {name: ts, type: TIMESTAMP}\n");
}

}  // namespace derived::testing
