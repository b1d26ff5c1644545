// The kinds of SQL statement, as DuckDB's parser (PostgreSQL's grammar) and binder
// classify them, in the order of DuckDB's duckdb_statement_type.
#pragma once

#include <string_view>

namespace derived::sql {

// What a statement does, as DuckDB classifies it once bound (DuckDB's
// duckdb_statement_type; MERGE INTO and a few others have no name there: kInvalid).
enum class StatementType {
  kInvalid, kSelect, kInsert, kUpdate, kExplain, kDelete, kPrepare, kCreate, kExecute, kAlter, kTransaction,
  kCopy, kAnalyze, kVariableSet, kCreateFunc, kDrop, kExport, kPragma, kVacuum, kCall, kSet, kLoad, kRelation,
  kExtension, kLogicalPlan, kAttach, kDetach, kMulti,
};
// "SELECT", "INSERT", ... ("statement" for kInvalid).
std::string_view StatementTypeName(StatementType type);

}  // namespace derived::sql
