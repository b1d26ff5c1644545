#include "sql/statement_type.h"

#include <cstddef>

namespace derived::sql {

std::string_view StatementTypeName(StatementType type) {
  static constexpr std::string_view kNames[] = {
      "statement", "SELECT", "INSERT",  "UPDATE",   "EXPLAIN",   "DELETE", "PREPARE", "CREATE",  "EXECUTE",
      "ALTER",     "transaction", "COPY", "ANALYZE", "SET VARIABLE", "CREATE FUNCTION", "DROP", "EXPORT",
      "PRAGMA",    "VACUUM", "CALL",    "SET",      "LOAD",      "relation", "extension", "logical plan",
      "ATTACH",    "DETACH", "multi-statement"};
  return kNames[static_cast<size_t>(type)];
}

}  // namespace derived::sql
