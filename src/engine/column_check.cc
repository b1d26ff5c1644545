#include "engine/column_check.h"

#include <set>

#include <fmt/format.h>

#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived {

Result<std::map<std::string, std::string>> CheckDeclaredColumns(Warehouse& wh, const TableDef& def,
                                                                const std::vector<OutputColumn>& returned) {
  std::vector<std::string> problems, names;
  for (const auto& c : returned) names.push_back(c.name);
  auto find = [&](const std::string& name) -> const OutputColumn* {
    for (const auto& c : returned)
      if (c.name == name) return &c;
    return nullptr;
  };
  std::map<std::string, std::string> casts;
  for (const auto& dc : def.columns) {
    const OutputColumn* c = find(dc.name);
    if (!c) {
      problems.push_back(
          fmt::format("declared column '{}' is not returned by the query{}", dc.name, DidYouMean(dc.name, names)));
      continue;
    }
    if (dc.type.empty()) continue;
    auto declared = wh.CanonicalType(dc.type);
    if (!declared.ok()) {
      problems.push_back(fmt::format("column '{}': {}", dc.name, declared.error().message));
      continue;
    }
    casts[dc.name] = *declared;
    if (!wh.dialect().TypeFits(*declared, c->type)) {
      problems.push_back(
          fmt::format("column '{}' is declared {} but the query returns {}", dc.name, *declared, c->type));
    }
  }
  auto require = [&](const std::string& name, const char* what) {
    if (!name.empty() && !find(name)) problems.push_back(fmt::format("{} '{}' is not returned by the query", what, name));
  };
  require(def.time_column, "time_column");
  for (const auto& k : def.merge.keys) require(k, "merge key");
  if (!problems.empty()) return Error(fmt::format("{}: {}", def.file, Join(problems, "; ")));
  return casts;
}

Status CheckSameColumns(const TableDef& def, const std::vector<OutputColumn>& returned,
                        const std::vector<OutputColumn>& existing) {
  std::set<std::string> have, want;
  for (const auto& c : existing) have.insert(c.name);
  for (const auto& c : returned) want.insert(c.name);
  if (have == want) return Status::Ok();
  return Error(fmt::format("{}: the query returns columns ({}) but the table has ({}); change the definition so that it "
                           "is rebuilt",
                           def.file, Join({want.begin(), want.end()}, ", "), Join({have.begin(), have.end()}, ", ")));
}

}  // namespace derived
