// The type-check on DuckDB (compile/typecheck.h): every query is bound in an empty
// in-memory database whose catalog mirrors the project.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "compile/typecheck.h"
#include "db/duckdb.h"
#include "db/lockdown.h"
#include "sql/parser.h"

namespace derived {

// The DuckDB type-checker: an empty in-memory database. Binding reads files a query names
// (read_csv sniffs them): only those of `files` (db/lockdown.h), as the warehouse would.
class DuckDbTypeChecker final : public TypeChecker {
 public:
  static Result<std::unique_ptr<TypeChecker>> Create(const db::FileAccess& files);

  std::string_view engine() const override { return "duckdb"; }
  Status Declare(const std::string& dataset, const std::string& table,
                 const std::vector<OutputColumn>& columns) override;
  BindResult Bind(const std::string& sql, const std::string& dataset) override;
  Result<std::string> CanonicalType(const std::string& type) override;
  bool TypeFits(const std::string& declared, const std::string& actual) const override;

 private:
  DuckDbTypeChecker() = default;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<sql::SqlParser> parser_;
  std::set<std::string> schemas_;
  std::string search_path_;  // the dataset unqualified names currently resolve to
  std::map<std::string, Result<std::string>> canonical_;  // memo: type text -> canonical
};

// DuckDB's TypeFits: the same type, or a wider one of the same family (DuckDB's names).
bool DuckDbTypeFits(const std::string& declared, const std::string& actual);

}  // namespace derived
