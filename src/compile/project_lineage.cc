// Column lineage of a compiled table: its SQL re-parsed, names resolved like the DAG's,
// and upstream schemas taken from the type-check.
#include "db/duckdb.h"
#include "compile/stages.h"
#include "sql/parser.h"

namespace derived {
namespace {

class ProjectSchemas : public sql::SchemaLookup {
 public:
  ProjectSchemas(const CompiledProject& cp, const std::string& dataset)
      : cp_(cp), names_(cp.project), dataset_(dataset) {
    for (const auto& s : cp.project.sources) Remember(s.qualified_name());
    for (const auto& t : cp.project.tables) Remember(t.qualified_name());
  }

  std::string Resolve(const sql::TableRef& ref) const override {
    auto name = names_.Resolve(ref, dataset_);
    return name.ok() ? *name : "";
  }

  const std::vector<std::string>* Columns(const std::string& qualified) const override {
    auto it = columns_.find(qualified);
    return it == columns_.end() ? nullptr : &it->second;
  }

 private:
  void Remember(const std::string& name) {
    if (const auto* schema = cp_.SchemaOf(name)) {
      std::vector<std::string> cols;
      for (const auto& c : *schema) cols.push_back(c.name);
      columns_[name] = std::move(cols);
    }
  }

  const CompiledProject& cp_;
  compile_internal::NameIndex names_;
  std::string dataset_;
  std::map<std::string, std::vector<std::string>> columns_;
};

}  // namespace

Result<sql::QueryLineage> CompiledProject::Lineage(const CompiledTable& table) const {
  if (!table.parsed) return Error("the table's SQL has errors; fix them to see its lineage");
  auto parser = sql::StandaloneParser::Open();
  if (!parser.ok()) return parser.error();
  ProjectSchemas schemas(*this, def(table).dataset);
  auto lineage = (*parser)->get().Lineage(table.sql, schemas);
  if (!lineage.ok()) return lineage.error();
  // Unaliased expressions are named by the engine; take the names the type-check saw.
  if (table.schema && lineage->columns_known && lineage->columns.size() == table.schema->size()) {
    for (size_t i = 0; i < lineage->columns.size(); ++i) lineage->columns[i].name = (*table.schema)[i].name;
  }
  return lineage;
}

}  // namespace derived
