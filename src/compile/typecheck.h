// Binds queries, without running them, against a catalog that mirrors the project:
// sources from their declared columns, derived tables from the output schemas inferred
// for them. Misspelled columns and type clashes surface here, before anything runs
// anywhere. Each engine binds in its own SQL: DuckDB in an empty in-memory database
// (warehouse/duckdb/typecheck.h), PostgreSQL on the server itself
// (warehouse/postgres/typecheck.h). The compile stage that drives it is typecheck.cc.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compile/cache.h"
#include "sql/parser.h"

namespace derived {

// Not thread-safe: one per thread.
class TypeChecker {
 public:
  virtual ~TypeChecker() = default;

  // The engine it binds in ("duckdb", "postgres"): part of every cached result's key.
  virtual std::string_view engine() const = 0;

  // Makes dataset.table readable by later queries with these columns.
  // REQUIRES: every column has a type.
  virtual Status Declare(const std::string& dataset, const std::string& table,
                         const std::vector<OutputColumn>& columns) = 0;

  // Binds one SELECT and returns its output columns, or the engine's error with the byte
  // offset in `sql` it points at when the engine gives one. Unqualified table names
  // resolve against `dataset`, as they do when the table is built. `sql` is a user's:
  // it is bound only as sql/embed.h says (checked, then described).
  virtual BindResult Bind(const std::string& sql, const std::string& dataset) = 0;
  // Whether an error of Declare says the engine could not answer now (a lost connection,
  // a lock timeout), not that the declaration is wrong.
  virtual bool IsTransient(const Error&) const { return false; }

  // The engine's canonical spelling of a type ("int" -> "INTEGER"); an error for types
  // the engine does not know.
  virtual Result<std::string> CanonicalType(const std::string& type) = 0;

  // True when values of type `actual` fit a column declared `declared` without loss.
  virtual bool TypeFits(const std::string& declared, const std::string& actual) const = 0;

  // For SQL that DuckDB's parser (which finds every query's inputs) rejected: true when
  // this engine would accept it, so the error can say what is wrong. Never runs it.
  virtual bool Accepts(const std::string& sql) {
    (void)sql;
    return false;
  }
};

}  // namespace derived
