// Base-table references in a statement tree (json_serialize_sql form).
#pragma once

#include <string>
#include <vector>

namespace simdjson::dom {
class element;
}

namespace derived::sql {

struct TableRef {
  std::string catalog;  // as written (identifier case preserved); usually empty
  std::string schema;   // empty when unqualified
  std::string table;
  size_t offset = 0;    // byte offset of the reference in the query text

  // "schema.table" (or "catalog.schema.table"), as written.
  std::string ToString() const;
};

// Every base-table reference in the statement, excluding names bound by a CTE in scope:
// joins, subqueries, set operations, IN (SELECT ...), lateral joins and nested CTEs.
// A non-recursive CTE does not see itself (WITH t AS (SELECT * FROM t) reads table t),
// a recursive one does; later CTEs see earlier ones.
std::vector<TableRef> ExtractTableRefs(const simdjson::dom::element& statement);

}  // namespace derived::sql
