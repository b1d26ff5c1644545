#include "config/model.h"

#include <algorithm>

#include "util/strings.h"

namespace derived {

std::string_view StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kReplace: return "replace";
    case Strategy::kAppend: return "append";
    case Strategy::kMerge: return "merge";
    case Strategy::kView: return "view";
  }
  return "?";
}

std::string_view EngineName(WarehouseEngine engine) {
  switch (engine) {
    case WarehouseEngine::kDuckDb: return "duckdb";
    case WarehouseEngine::kPostgres: return "postgres";
  }
  return "?";
}

std::string_view FreshnessName(Freshness::Kind k) {
  switch (k) {
    case Freshness::Kind::kMarker: return "marker";
    case Freshness::Kind::kQuery: return "query";
    case Freshness::Kind::kStatic: return "static";
  }
  return "?";
}

std::string_view FileFormatName(FileFormat f) {
  switch (f) {
    case FileFormat::kParquet: return "parquet";
    case FileFormat::kCsv: return "csv";
    case FileFormat::kJson: return "json";
  }
  return "?";
}

std::string_view MergeRuleName(MergeRule r) {
  switch (r) {
    case MergeRule::kLatest: return "latest";
    case MergeRule::kEarliest: return "earliest";
    case MergeRule::kMin: return "min";
    case MergeRule::kMax: return "max";
    case MergeRule::kSum: return "sum";
    case MergeRule::kCount: return "count";
    case MergeRule::kCoalesce: return "coalesce";
  }
  return "?";
}

std::string_view TestKindName(TestDef::Kind k) {
  switch (k) {
    case TestDef::Kind::kNotNull: return "not_null";
    case TestDef::Kind::kUnique: return "unique";
    case TestDef::Kind::kAcceptedValues: return "accepted_values";
    case TestDef::Kind::kRelationships: return "relationships";
    case TestDef::Kind::kRowCount: return "row_count";
    case TestDef::Kind::kSql: return "sql";
  }
  return "?";
}

Location TableDef::LocationOf(const std::string& field) const {
  auto it = field_locations.find(field);
  return it == field_locations.end() ? Location{file, 1, 1} : it->second;
}

Location SourceDef::LocationOf(const std::string& field) const {
  auto it = field_locations.find(field);
  return it == field_locations.end() ? Location{file, 1, 1} : it->second;
}

namespace {
template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view qualified_name) {
  auto it = std::lower_bound(items.begin(), items.end(), qualified_name,
                             [](const T& t, std::string_view n) { return t.qualified_name() < n; });
  return (it != items.end() && it->qualified_name() == qualified_name) ? &*it : nullptr;
}
}  // namespace

const TableDef* Project::FindTable(std::string_view qualified_name) const {
  return FindByName(tables, qualified_name);
}

const SourceDef* Project::FindSource(std::string_view qualified_name) const {
  return FindByName(sources, qualified_name);
}

const BrokenFile* Project::FindBroken(std::string_view qualified_name) const {
  std::string name = ToLower(qualified_name);
  for (const auto& b : broken) {
    if (std::find(b.names.begin(), b.names.end(), name) != b.names.end()) return &b;
  }
  return nullptr;
}

bool Project::IsLookup(std::string_view qualified_name) const {
  if (const TableDef* t = FindTable(qualified_name)) return t->lookup;
  if (const SourceDef* s = FindSource(qualified_name)) return s->lookup;
  return false;
}

}  // namespace derived
