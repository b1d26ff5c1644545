// Binds queries, without running them, against an empty in-memory DuckDB catalog that
// mirrors the project: sources from their declared columns, derived tables from the
// output schemas inferred for them. Misspelled columns and type clashes surface here,
// before anything runs anywhere.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "check/cache.h"
#include "db/duckdb.h"
#include "sql/parser.h"

namespace derived {

// Not thread-safe: one per thread.
class TypeChecker {
 public:
  // Binding reads files a query names (read_csv sniffs them): only those of `files`
  // (db/lockdown.h), as the warehouse would.
  static Result<std::unique_ptr<TypeChecker>> Create(const db::FileAccess& files);

  // Creates (or replaces) dataset.table with these columns so later queries can read it.
  // REQUIRES: every column has a type.
  Status Declare(const std::string& dataset, const std::string& table, const std::vector<OutputColumn>& columns);

  // Binds one SELECT and returns its output columns, or the engine's error with the byte
  // offset in `sql` it points at when the engine gives one. Unqualified table names
  // resolve against `dataset`, as they do when the table is built. `sql` is a user's:
  // it is bound only as sql/embed.h says (checked, then DESCRIBEd).
  BindResult Bind(const std::string& sql, const std::string& dataset);

  // The engine's canonical spelling of a type ("int" -> "INTEGER"); an error for types
  // the engine does not know.
  Result<std::string> CanonicalType(const std::string& type);

 private:
  TypeChecker() = default;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<sql::SqlParser> parser_;
  std::set<std::string> schemas_;
  std::string search_path_;  // the dataset unqualified names currently resolve to
  std::map<std::string, Result<std::string>> canonical_;  // memo: type text -> canonical
};

// True when values of type `actual` (what the query returns) fit a column declared as
// `declared` without loss: the same type, or a wider one of the same family.
bool TypeFits(const std::string& declared, const std::string& actual);

}  // namespace derived
