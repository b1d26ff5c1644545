// Column-level lineage: for each output column of a query, the input columns it is
// computed from. Where the tree alone cannot tell (SELECT * over a table whose columns
// are unknown, an unresolvable name), the column is marked ambiguous with a note rather
// than guessed.
#pragma once

#include <compare>
#include <string>
#include <vector>

#include "sql/references.h"

namespace derived::sql {

struct ColumnSource {
  std::string table;   // resolved qualified name, "dataset.table"
  std::string column;  // lowercase; "*" when the columns of `table` are unknown
  auto operator<=>(const ColumnSource&) const = default;
};

struct ColumnLineage {
  std::string name;  // output name; empty for an unaliased expression (DESCRIBE names it)
  std::vector<ColumnSource> inputs;  // sorted, unique
  bool ambiguous = false;
  std::string note;  // why it is ambiguous
};

struct QueryLineage {
  std::vector<ColumnLineage> columns;
  // False when the output columns themselves are not known (SELECT * over unknown columns).
  bool columns_known = true;
};

// What lineage needs to know about the tables a query reads.
class SchemaLookup {
 public:
  virtual ~SchemaLookup() = default;
  // The qualified name a reference resolves to, or "" when it names nothing known.
  virtual std::string Resolve(const TableRef& ref) const = 0;
  // The columns of a resolved table (lowercase), or nullptr when they are unknown.
  virtual const std::vector<std::string>* Columns(const std::string& qualified) const = 0;
};

QueryLineage ComputeLineage(const simdjson::dom::element& statement, const SchemaLookup& schemas);

}  // namespace derived::sql
