#include <fmt/format.h>

#include "compile/stages.h"
#include "util/strings.h"

namespace derived::compile_internal {

NameIndex::NameIndex(const Project& project) {
  for (const auto& s : project.sources) known_.insert(s.qualified_name());
  for (const auto& t : project.tables) known_.insert(t.qualified_name());
  for (const auto& b : project.broken) broken_.insert(b.names.begin(), b.names.end());
  all_.assign(known_.begin(), known_.end());
}

Result<std::string> NameIndex::Resolve(const sql::TableRef& ref, const std::string& dataset) const {
  if (!ref.catalog.empty()) {
    return Error(fmt::format("'{}' names a catalog: refer to tables as dataset.table", ref.ToString()));
  }
  std::string schema = ToLower(ref.schema);
  std::string table = ToLower(ref.table);
  std::string qualified = (schema.empty() ? dataset : schema) + "." + table;
  if (known_.count(qualified) || broken_.count(qualified)) return qualified;

  // Suggest the closest known name; for an unqualified name, a table of that name in
  // another dataset is the likeliest meaning.
  std::string hint;
  if (schema.empty()) {
    std::vector<std::string> same_name;
    for (const auto& n : all_) {
      if (EndsWith(n, "." + table)) same_name.push_back(n);
    }
    if (same_name.size() == 1) hint = fmt::format(" (did you mean '{}'?)", same_name[0]);
  }
  if (hint.empty()) hint = DidYouMean(qualified, all_);
  if (hint.empty() && schema.empty()) {
    std::vector<std::string> in_dataset;
    for (const auto& n : all_) {
      if (StartsWith(n, dataset + ".")) in_dataset.push_back(n.substr(dataset.size() + 1));
    }
    hint = DidYouMean(table, in_dataset);
  }
  std::string shown = schema.empty() ? fmt::format("'{}' (resolved as '{}')", ref.table, qualified)
                                     : fmt::format("'{}'", ref.ToString());
  return Error(fmt::format("unknown table {}: it is neither a source nor a derived table{}", shown, hint));
}

}  // namespace derived::compile_internal
