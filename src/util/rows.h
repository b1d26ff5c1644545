// A query's whole result as text: what Derived reads back from any engine (catalog
// lookups, DESCRIBE, its own metadata). Values are rendered as text, NULL as nullopt.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace derived {

struct Rows {
  std::vector<std::string> columns;
  std::vector<std::string> types;  // the engine's type names, e.g. "VARCHAR", "TIMESTAMP"
  std::vector<std::vector<std::optional<std::string>>> rows;

  size_t size() const { return rows.size(); }
  // REQUIRES: row < size(), col < columns.size()
  const std::optional<std::string>& at(size_t row, size_t col) const { return rows[row][col]; }
  // One object per row, column name to text (or null).
  nlohmann::json ToJson() const;
};

}  // namespace derived
