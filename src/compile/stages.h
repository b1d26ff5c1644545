// Internal stages of Compile(), one file each. Not a public API.
#pragma once

#include <set>
#include <string>

#include "check/cache.h"
#include "compile/compiler.h"
#include "sql/references.h"
#include "template/template.h"

namespace derived::compile_internal {

// render.cc: the template globals for one table and window.
tmpl::Context MakeContext(const Project& project, const TableDef& table, Window window, bool initial_build);
tmpl::Value JsonToValue(const nlohmann::json& json);

// A location inside SQL text (relative line/column) mapped to its file.
Location MapSqlLocation(const SqlText& sql, const Location& relative);
// Adds a "  | the line" excerpt of the rendered SQL under a message.
std::string WithExcerpt(const std::string& message, const std::string& rendered, int line);

// resolve.cc: every name a query can refer to.
class NameIndex {
 public:
  explicit NameIndex(const Project& project);
  bool Known(const std::string& qualified) const { return known_.count(qualified) > 0; }
  bool Broken(const std::string& qualified) const { return broken_.count(qualified) > 0; }
  // The qualified name a reference in `table` means (unqualified = the table's dataset),
  // or an error message with a suggestion when it names nothing known.
  Result<std::string> Resolve(const sql::TableRef& ref, const std::string& dataset) const;

 private:
  std::set<std::string> known_;
  std::set<std::string> broken_;
  std::vector<std::string> all_;
};

// typecheck.cc: binds every parsed table in `order` (node ids) and checks its declared
// columns and the columns its config names.
void TypeCheckTables(CompiledProject* cp, const std::vector<int>& order, CompileCache* cache);

}  // namespace derived::compile_internal
