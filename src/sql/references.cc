#include "sql/references.h"

#include <simdjson.h>

#include <algorithm>

#include "util/strings.h"

namespace derived::sql {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string_view StringField(const object& obj, std::string_view key) {
  std::string_view v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return {};
  return v;
}

size_t OffsetField(const object& obj) {
  uint64_t v = 0;
  if (obj.at_key("query_location").get(v) != simdjson::SUCCESS) return 0;
  return v == UINT64_MAX ? 0 : static_cast<size_t>(v);
}

class RefWalker {
 public:
  std::vector<TableRef> refs;

  void Walk(const element& e) {
    if (e.is_array()) {
      for (element child : array(e)) Walk(child);
      return;
    }
    if (!e.is_object()) return;
    object obj(e);
    std::string_view type = StringField(obj, "type");
    if (type == "BASE_TABLE") {
      AddBaseTable(obj);
      return;
    }
    size_t scope_mark = scope_.size();
    if (type == "RECURSIVE_CTE_NODE") scope_.push_back(ToLower(StringField(obj, "cte_name")));
    element cte_map;
    if (obj.at_key("cte_map").get(cte_map) == simdjson::SUCCESS) WalkCtes(cte_map);
    for (auto field : obj) {
      if (field.key == "cte_map") continue;
      Walk(field.value);
    }
    scope_.resize(scope_mark);
  }

 private:
  // Binds the CTE names of one WITH clause, in order; they stay bound (pushed on scope_)
  // for the rest of the enclosing node, and the caller pops them.
  void WalkCtes(const element& cte_map) {
    element entries;
    if (cte_map.at_key("map").get(entries) != simdjson::SUCCESS || !entries.is_array()) return;
    for (element entry : array(entries)) {
      std::string_view name;
      if (entry.at_key("key").get(name) != simdjson::SUCCESS) continue;
      element body;
      if (entry.at_key("value").get(body) == simdjson::SUCCESS) Walk(body);
      scope_.push_back(ToLower(name));
    }
  }

  void AddBaseTable(const object& obj) {
    TableRef ref;
    ref.catalog = std::string(StringField(obj, "catalog_name"));
    ref.schema = std::string(StringField(obj, "schema_name"));
    ref.table = std::string(StringField(obj, "table_name"));
    ref.offset = OffsetField(obj);
    if (ref.catalog.empty() && ref.schema.empty()) {
      std::string lower = ToLower(ref.table);
      if (std::find(scope_.begin(), scope_.end(), lower) != scope_.end()) return;  // a CTE
    }
    refs.push_back(std::move(ref));
  }

  std::vector<std::string> scope_;  // CTE names visible here, innermost last
};

}  // namespace

std::string TableRef::ToString() const {
  std::string out;
  if (!catalog.empty()) out += catalog + ".";
  if (!schema.empty()) out += schema + ".";
  return out + table;
}

std::vector<TableRef> ExtractTableRefs(const simdjson::dom::element& statement) {
  RefWalker w;
  w.Walk(statement);
  std::stable_sort(w.refs.begin(), w.refs.end(),
                   [](const TableRef& a, const TableRef& b) { return a.offset < b.offset; });
  return std::move(w.refs);
}

}  // namespace derived::sql
