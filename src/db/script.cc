// Scripts: SQL split into statements by DuckDB's parser, and what each statement is.
#include <string>

#include <fmt/format.h>

#include "db/duckdb.h"
#include "sql/text.h"
#include "util/strings.h"

namespace derived::db {

StatementType PreparedStatement::type() const {
  switch (duckdb_prepared_statement_type(stmt_)) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return StatementType::kSelect;
    case DUCKDB_STATEMENT_TYPE_INSERT: return StatementType::kInsert;
    case DUCKDB_STATEMENT_TYPE_UPDATE: return StatementType::kUpdate;
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return StatementType::kExplain;
    case DUCKDB_STATEMENT_TYPE_DELETE: return StatementType::kDelete;
    case DUCKDB_STATEMENT_TYPE_PREPARE: return StatementType::kPrepare;
    case DUCKDB_STATEMENT_TYPE_CREATE: return StatementType::kCreate;
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return StatementType::kExecute;
    case DUCKDB_STATEMENT_TYPE_ALTER: return StatementType::kAlter;
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return StatementType::kTransaction;
    case DUCKDB_STATEMENT_TYPE_COPY: return StatementType::kCopy;
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return StatementType::kAnalyze;
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return StatementType::kVariableSet;
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return StatementType::kCreateFunc;
    case DUCKDB_STATEMENT_TYPE_DROP: return StatementType::kDrop;
    case DUCKDB_STATEMENT_TYPE_EXPORT: return StatementType::kExport;
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return StatementType::kPragma;
    case DUCKDB_STATEMENT_TYPE_VACUUM: return StatementType::kVacuum;
    case DUCKDB_STATEMENT_TYPE_CALL: return StatementType::kCall;
    case DUCKDB_STATEMENT_TYPE_SET: return StatementType::kSet;
    case DUCKDB_STATEMENT_TYPE_LOAD: return StatementType::kLoad;
    case DUCKDB_STATEMENT_TYPE_RELATION: return StatementType::kRelation;
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return StatementType::kExtension;
    case DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN: return StatementType::kLogicalPlan;
    case DUCKDB_STATEMENT_TYPE_ATTACH: return StatementType::kAttach;
    case DUCKDB_STATEMENT_TYPE_DETACH: return StatementType::kDetach;
    case DUCKDB_STATEMENT_TYPE_MULTI: return StatementType::kMulti;
    default: return StatementType::kInvalid;
  }
}


Result<std::unique_ptr<Script>> Connection::Extract(std::string_view sql) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  std::string text(sql);
  duckdb_extracted_statements statements = nullptr;
  idx_t n = duckdb_extract_statements(conn_, text.c_str(), &statements);
  std::unique_ptr<Script> script(new Script(db_, conn_, statements, n));
  if (n == 0) {
    const char* err = duckdb_extract_statements_error(statements);
    if (err) return Error(err);
  }
  return script;
}

Result<Rows> Connection::QueryOne(std::string_view sql, StatementType type) {
  // The C API reads text up to a NUL byte: one inside would hide what follows it.
  if (sql.find('\0') != std::string_view::npos) return Error("refusing to run SQL that holds a NUL byte");
  // Prepared from DuckDB's own split of the text, so what runs is the statement counted.
  auto script = Extract(sql);
  if (!script.ok()) return script.error();
  if ((*script)->size() != 1) {
    return Error(fmt::format("refusing to run SQL that holds {} statements where one was expected",
                             (*script)->size()));
  }
  auto prepared = (*script)->Prepare(0);
  if (!prepared.ok()) return prepared.error();
  if ((*prepared)->type() != type) {
    return Error(fmt::format("refusing to run a {} statement where a {} statement was expected",
                             StatementTypeName((*prepared)->type()), StatementTypeName(type)));
  }
  return (*prepared)->Execute();
}

Result<std::unique_ptr<Script>> Connection::Parse(std::string_view sql) {
  auto extracted = Extract(sql);
  if (!extracted.ok()) return extracted.error();
  std::unique_ptr<Script> script = std::move(*extracted);
  size_t n = script->size();
  // Each piece of text between semicolons, parsed alone, must give the statements
  // DuckDB found, in order; otherwise the texts stay unknown.
  std::vector<std::pair<std::string, size_t>> pieces;  // text, statements in it
  size_t total = 0;
  for (std::string_view piece : sql::SplitAtSemicolons(sql)) {
    if (sql::IsBlank(piece)) continue;
    std::string piece_text(piece);
    duckdb_extracted_statements alone = nullptr;
    idx_t k = duckdb_extract_statements(conn_, piece_text.c_str(), &alone);
    duckdb_destroy_extracted(&alone);
    if (k == 0) return script;
    total += k;
    pieces.emplace_back(std::string(Trim(piece)), k);
  }
  if (total != n) return script;
  size_t i = 0;
  for (auto& [text, k] : pieces) {
    for (size_t j = 0; j < k; ++j, ++i) {
      script->texts_[i] = text;
      script->whole_[i] = k == 1;
    }
  }
  return script;
}

Script::~Script() { duckdb_destroy_extracted(&statements_); }

Result<std::unique_ptr<PreparedStatement>> Script::Prepare(size_t index) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  duckdb_prepared_statement stmt = nullptr;
  duckdb_state state = duckdb_prepare_extracted_statement(conn_, statements_, index, &stmt);
  std::unique_ptr<PreparedStatement> owned(new PreparedStatement(db_, stmt));
  if (state == DuckDBError) {
    const char* err = duckdb_prepare_error(stmt);
    return Error(err ? err : "cannot prepare statement");
  }
  return owned;
}

}  // namespace derived::db
