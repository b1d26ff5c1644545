#include "engine/definition_hash.h"

#include "util/hash.h"
#include "util/strings.h"

namespace derived {

std::string DefinitionHash(const TableDef& def, const std::string& sql, const std::string& initial_sql) {
  Hasher h;
  h.Add("definition-v1").Add(StrategyName(def.strategy)).Add(ScheduleName(def.schedule));
  h.Add(FormatDuration(def.window)).Add(def.start ? FormatIso(*def.start) : "-").Add(def.time_column);
  for (const auto& k : def.merge.keys) h.Add("key").Add(k);
  for (const auto& [col, rule] : def.merge.rules) h.Add("rule").Add(col).Add(MergeRuleName(rule));
  for (const auto& c : def.columns) h.Add("col").Add(c.name).Add(c.type);
  for (const auto& c : def.partition_by) h.Add("part").Add(c);
  for (const auto& c : def.cluster_by) h.Add("clus").Add(c);
  h.Add(sql).Add(initial_sql);
  return h.Hex();
}

namespace {

void AddTests(const TableDef& def, Hasher& h) {
  for (const auto& t : def.tests) {
    h.Add("test").Add(t.name).Add(TestKindName(t.kind)).Add(Join(t.columns, ",")).Add(Join(t.values, ","));
    h.Add(t.to_table).Add(t.to_column).Add(t.sql);
    h.Add(t.min_rows ? std::to_string(*t.min_rows) : "-").Add(t.max_rows ? std::to_string(*t.max_rows) : "-");
  }
}

}  // namespace

std::string MetadataHash(const TableDef& def) {
  Hasher h;
  h.Add("metadata-v1").Add(def.description).Add(def.owner);
  for (const auto& t : def.tags) h.Add("tag").Add(t);
  for (const auto& c : def.columns) h.Add("col").Add(c.name).Add(c.description).Add(Join(c.tags, ","));
  AddTests(def, h);
  return h.Hex();
}

std::string TestsHash(const TableDef& def) {
  Hasher h;
  h.Add("tests-v1");
  AddTests(def, h);
  return h.Hex();
}

}  // namespace derived
