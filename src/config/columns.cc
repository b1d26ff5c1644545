#include "config/columns.h"

#include <set>

#include <fmt/format.h>

#include "config/loader.h"
#include "util/strings.h"

namespace derived {

bool IsIdentifier(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::vector<ColumnDef> ParseColumns(YamlReader& r, const YAML::Node& node) {
  std::vector<ColumnDef> out;
  if (!node.IsSequence()) {
    r.ErrorAt(node, fmt::format("'columns' must be a list of {{name, type, description, tags}}, got {}",
                                DescribeYamlType(node)));
    return out;
  }
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!r.CheckMap(item, "column", {"name", "type", "description", "tags"}, {"name"})) continue;
    ColumnDef col;
    col.where = r.At(item);
    if (auto name = r.String(item, "name")) {
      col.name = ToLower(*name);
      if (!IsIdentifier(col.name)) {
        r.ErrorAt(item["name"], fmt::format("column name '{}' is not a SQL identifier (letters, digits, _)", *name));
      } else if (!seen.insert(col.name).second) {
        r.ErrorAt(item["name"], fmt::format("column '{}' is declared twice", col.name));
      }
    }
    if (auto type = r.String(item, "type")) col.type = *type;
    if (auto d = r.String(item, "description")) col.description = *d;
    if (auto tags = r.StringList(item, "tags")) col.tags = *tags;
    out.push_back(std::move(col));
  }
  return out;
}

std::string ParseName(YamlReader& r, const YAML::Node& root, const std::string& key, const std::string& fallback) {
  std::string name = fallback;
  Location where{r.file(), 0, 0};
  if (auto v = r.String(root, key)) {
    name = *v;
    where = r.At(root[key]);
  }
  if (name.empty()) {
    r.diags()->AddError({r.file(), 1, 1}, fmt::format("missing '{}': it cannot be taken from the file's path", key));
  } else if (!IsIdentifier(name)) {
    std::string from = where.line ? "" : " (taken from the file's path)";
    r.diags()->AddError(where.line ? where : Location{r.file(), 0, 0},
                        fmt::format("{} '{}'{} is not a SQL identifier: use letters, digits and _", key, name, from));
  }
  return ToLower(name);
}

std::map<std::string, Location> FieldLocations(const YamlReader& r, const YAML::Node& root) {
  std::map<std::string, Location> out;
  if (!root.IsMap()) return out;
  for (const auto& kv : root) {
    if (kv.first.IsScalar()) out.emplace(kv.first.Scalar(), r.At(kv.first));
  }
  return out;
}

}  // namespace derived
