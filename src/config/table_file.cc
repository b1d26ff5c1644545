// Parsing of tables/<dataset>/<table>.yaml.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "config/columns.h"
#include "config/limits.h"
#include "config/loader.h"
#include "util/files.h"
#include "util/strings.h"

namespace derived {
namespace {

const std::vector<std::string> kTableKeys = {
    "name",         "dataset",    "description", "owner",   "tags",    "schedule", "window",
    "start",        "batch",      "strategy",   "time_column", "partition_by", "cluster_by", "merge", "lookup",
    "columns",      "tests",      "sql",        "sql_file"};

const std::vector<std::string> kStrategies = {"replace", "append", "merge", "view"};
// A view has no storage, schedule or windows: these keys would mean nothing on one.
const std::vector<std::string> kNotForViews = {"schedule", "window", "start", "batch", "time_column",
                                               "partition_by", "cluster_by", "merge"};
const std::vector<std::string> kMergeRules = {"latest", "earliest", "min", "max", "sum", "count", "coalesce"};
const std::vector<std::string> kTestKinds = {"not_null", "unique", "accepted_values", "relationships",
                                             "row_count", "sql"};

// The first line of a scalar's text: block scalars (| and >) start on the next line.
int ScalarFirstLine(const YAML::Node& node, const std::string& text) {
  YAML::Mark m = node.Mark();
  if (m.is_null()) return 1;
  size_t pos = static_cast<size_t>(m.pos);
  bool block = pos < text.size() && (text[pos] == '|' || text[pos] == '>');
  return m.line + 1 + (block ? 1 : 0);
}

std::optional<Strategy> ParseStrategy(YamlReader& r, const YAML::Node& node) {
  auto s = r.AsString(node, "'strategy'");
  if (!s) return std::nullopt;
  std::string v = ToLower(*s);
  if (v == "replace") return Strategy::kReplace;
  if (v == "append") return Strategy::kAppend;
  if (v == "merge") return Strategy::kMerge;
  if (v == "view") return Strategy::kView;
  r.ErrorAt(node, fmt::format("unknown strategy '{}': expected replace, append, merge or view{}", *s,
                              DidYouMean(*s, kStrategies)));
  return std::nullopt;
}

std::optional<Timestamp> ParseTimestampField(YamlReader& r, const YAML::Node& node, const std::string& key) {
  auto s = r.AsString(node, "'" + key + "'");
  if (!s) return std::nullopt;
  auto ts = ParseUserTimestamp(*s);
  if (!ts.ok()) {
    r.ErrorAt(node, ts.error().message);
    return std::nullopt;
  }
  return *ts;
}

MergeConfig ParseMerge(YamlReader& r, const YAML::Node& node) {
  MergeConfig merge;
  merge.where = r.At(node);
  if (!r.CheckMap(node, "'merge'", {"keys", "rules"}, {"keys"})) return merge;
  if (auto keys = r.StringList(node, "keys")) {
    for (auto& k : *keys) merge.keys.push_back(ToLower(k));
    if (merge.keys.empty()) r.ErrorAt(node["keys"], "'merge.keys' must name at least one column");
  }
  YAML::Node rules = node["rules"];
  if (!rules.IsDefined()) return merge;
  if (!rules.IsMap()) {
    r.ErrorAt(rules, fmt::format("'merge.rules' must map column names to rules ({}), got {}",
                                 Join(kMergeRules, ", "), DescribeYamlType(rules)));
    return merge;
  }
  for (const auto& kv : rules) {
    auto column = r.AsString(kv.first, "a merge rule's column");
    auto rule = r.AsString(kv.second, "a merge rule");
    if (!column || !rule) continue;
    std::string v = ToLower(*rule);
    static const std::map<std::string, MergeRule> kByName = {
        {"latest", MergeRule::kLatest}, {"earliest", MergeRule::kEarliest}, {"min", MergeRule::kMin},
        {"max", MergeRule::kMax},       {"sum", MergeRule::kSum},           {"count", MergeRule::kCount},
        {"coalesce", MergeRule::kCoalesce}};
    auto it = kByName.find(v);
    if (it == kByName.end()) {
      r.ErrorAt(kv.second, fmt::format("unknown merge rule '{}' for column '{}': expected one of {}{}", *rule, *column,
                                       Join(kMergeRules, ", "), DidYouMean(*rule, kMergeRules)));
      continue;
    }
    merge.rules[ToLower(*column)] = it->second;
  }
  return merge;
}

std::optional<TestDef> ParseTest(YamlReader& r, const YAML::Node& item) {
  if (!item.IsMap()) {
    r.ErrorAt(item, fmt::format("a test must be a mapping such as {{not_null: [column]}}, got {}",
                                DescribeYamlType(item)));
    return std::nullopt;
  }
  std::vector<std::string> allowed = kTestKinds;
  allowed.push_back("name");
  bool unknown = false;
  for (const auto& kv : item) {
    if (!kv.first.IsScalar() || std::find(allowed.begin(), allowed.end(), kv.first.Scalar()) != allowed.end()) continue;
    r.ErrorAt(kv.first, fmt::format("unknown test '{}'{}: a test is one of {} (a custom query returning the "
                                    "offending rows), with an optional 'name'",
                                    kv.first.Scalar(), DidYouMean(kv.first.Scalar(), kTestKinds),
                                    Join(kTestKinds, ", ")));
    unknown = true;
  }
  if (unknown || !r.CheckMap(item, "test", allowed)) return std::nullopt;
  std::vector<std::string> kinds;
  for (const auto& kv : item) {
    if (kv.first.IsScalar() && kv.first.Scalar() != "name") kinds.push_back(kv.first.Scalar());
  }
  if (kinds.size() != 1) {
    r.ErrorAt(item, fmt::format("a test needs exactly one of {}, got {}", Join(kTestKinds, ", "),
                                kinds.empty() ? "none" : Join(kinds, " and ")));
    return std::nullopt;
  }
  TestDef t;
  t.where = r.At(item);
  const std::string& kind = kinds[0];
  YAML::Node body = item[kind];
  auto lower_all = [](std::vector<std::string> v) {
    for (auto& s : v) s = ToLower(s);
    return v;
  };
  if (kind == "not_null" || kind == "unique") {
    t.kind = kind == "not_null" ? TestDef::Kind::kNotNull : TestDef::Kind::kUnique;
    auto cols = r.StringList(item, kind);
    if (!cols) return std::nullopt;
    if (cols->empty()) {
      r.ErrorAt(body, fmt::format("'{}' needs at least one column", kind));
      return std::nullopt;
    }
    t.columns = lower_all(*cols);
    t.name = kind + "_" + Join(t.columns, "_");
  } else if (kind == "accepted_values") {
    t.kind = TestDef::Kind::kAcceptedValues;
    if (!r.CheckMap(body, "'accepted_values'", {"column", "values"}, {"column", "values"})) return std::nullopt;
    auto col = r.String(body, "column");
    auto values = r.StringList(body, "values");
    if (!col || !values) return std::nullopt;
    t.columns = {ToLower(*col)};
    t.values = *values;
    t.name = "accepted_values_" + t.columns[0];
  } else if (kind == "relationships") {
    t.kind = TestDef::Kind::kRelationships;
    if (!r.CheckMap(body, "'relationships'", {"column", "to", "field"}, {"column", "to"})) return std::nullopt;
    auto col = r.String(body, "column");
    auto to = r.String(body, "to");
    if (!col || !to) return std::nullopt;
    t.columns = {ToLower(*col)};
    t.to_table = ToLower(*to);
    t.to_column = ToLower(r.String(body, "field").value_or(*col));
    t.name = "relationships_" + t.columns[0];
  } else if (kind == "row_count") {
    t.kind = TestDef::Kind::kRowCount;
    if (!r.CheckMap(body, "'row_count'", {"min", "max"})) return std::nullopt;
    t.min_rows = r.Int(body, "min");
    t.max_rows = r.Int(body, "max");
    if (!t.min_rows && !t.max_rows) {
      r.ErrorAt(body, "'row_count' needs 'min', 'max' or both");
      return std::nullopt;
    }
    for (const char* key : {"min", "max"}) {
      std::optional<int64_t> v = std::string(key) == "min" ? t.min_rows : t.max_rows;
      if (v && *v < 0) {
        r.ErrorAt(body[key], fmt::format("'row_count' {} must be 0 or more, got {}", key, *v));
        return std::nullopt;
      }
    }
    if (t.min_rows && t.max_rows && *t.min_rows > *t.max_rows) {
      r.ErrorAt(body, fmt::format("'row_count' min {} is greater than max {}", *t.min_rows, *t.max_rows));
      return std::nullopt;
    }
    t.name = "row_count";
  } else {  // sql
    t.kind = TestDef::Kind::kSql;
    auto sql = r.String(item, "sql");
    if (!sql) return std::nullopt;
    if (Trim(*sql).empty()) {
      r.ErrorAt(body, "a custom 'sql' test needs a query that returns the offending rows");
      return std::nullopt;
    }
    t.sql = *sql;
    t.name = "sql";
  }
  if (auto name = r.String(item, "name")) t.name = *name;
  return t;
}

std::vector<TestDef> ParseTests(YamlReader& r, const YAML::Node& node) {
  std::vector<TestDef> out;
  if (!node.IsSequence()) {
    r.ErrorAt(node, fmt::format("'tests' must be a list, got {}", DescribeYamlType(node)));
    return out;
  }
  std::map<std::string, int> counts;
  for (const auto& item : node) {
    if (auto t = ParseTest(r, item)) out.push_back(std::move(*t));
  }
  // Generated names may repeat (two row_count tests); number the repeats.
  for (auto& t : out) ++counts[t.name];
  std::map<std::string, int> seen;
  for (auto& t : out) {
    if (counts[t.name] > 1) t.name += "_" + std::to_string(++seen[t.name]);
  }
  return out;
}

void ParseSql(YamlReader& r, const YAML::Node& root, const std::string& text, const Project& project,
              TableDef* table) {
  YAML::Node inline_sql = root["sql"];
  YAML::Node sql_file = root["sql_file"];
  if (inline_sql.IsDefined() && sql_file.IsDefined()) {
    r.ErrorAt(sql_file, "give either 'sql' or 'sql_file', not both");
    return;
  }
  if (inline_sql.IsDefined()) {
    auto s = r.AsString(inline_sql, "'sql'");
    if (!s) return;
    table->sql = {*s, r.file(), ScalarFirstLine(inline_sql, text)};
  } else if (sql_file.IsDefined()) {
    auto rel = r.AsString(sql_file, "'sql_file'");
    if (!rel) return;
    namespace fs = std::filesystem;
    fs::path yaml_dir = fs::path(r.file()).parent_path();
    fs::path path = (yaml_dir / *rel).lexically_normal();
    auto content = ReadFileLimited((fs::path(project.root) / path).string(), kMaxProjectFileBytes,
                                   fmt::format("sql_file '{}' (looked for {})", *rel, path.string()));
    if (!content.ok()) {
      r.ErrorAt(sql_file, content.error().message);
      return;
    }
    table->sql = {std::move(*content), path.string(), 1};
  } else {
    r.diags()->AddError({r.file(), 1, 1}, "table is missing required field 'sql' (or 'sql_file')");
    return;
  }
  if (Trim(table->sql.text).empty()) r.ErrorAt(inline_sql.IsDefined() ? inline_sql : sql_file, "the SQL is empty");
}

}  // namespace

std::optional<TableDef> ParseTableFile(const std::string& file, const std::string& text,
                                       const std::string& default_dataset, const std::string& default_name,
                                       const Project& project, Diagnostics* diags) {
  Diagnostics local;
  YamlReader r(file, &local);
  auto root = r.Parse(text);
  if (!root) {
    diags->Merge(std::move(local));
    return std::nullopt;
  }
  if (!r.CheckMap(*root, "table", kTableKeys)) {
    diags->Merge(std::move(local));
    return std::nullopt;
  }
  TableDef t;
  t.file = file;
  t.field_locations = FieldLocations(r, *root);
  t.dataset = ParseName(r, *root, "dataset", default_dataset);
  t.name = ParseName(r, *root, "name", default_name);
  t.description = r.String(*root, "description").value_or("");
  t.owner = r.String(*root, "owner").value_or(project.defaults.owner);
  t.tags = r.StringList(*root, "tags").value_or(std::vector<std::string>{});

  if (YAML::Node n = (*root)["strategy"]; n.IsDefined()) {
    if (auto s = ParseStrategy(r, n)) t.strategy = *s;
  }
  bool have_schedule = t.strategy == Strategy::kView;  // a view has none
  if (YAML::Node n = (*root)["schedule"]; n.IsDefined()) {
    if (auto s = r.AsString(n, "'schedule'")) {
      auto sched = ParseSchedule(*s);
      if (sched.ok()) {
        t.schedule = *sched;
        have_schedule = true;
      } else {
        r.ErrorAt(n, sched.error().message);
        have_schedule = true;  // reported already
      }
    } else {
      have_schedule = true;
    }
  } else if (project.defaults.schedule) {
    t.schedule = *project.defaults.schedule;
    have_schedule = true;
  }
  if (!have_schedule && !YamlReader::HasMisspelledKey(*root, "schedule", kTableKeys)) {
    local.AddError({file, 1, 1}, "table is missing required field 'schedule' (hourly, daily, weekly or monthly)");
  }

  t.window = PeriodOf(t.schedule);
  if (YAML::Node n = (*root)["window"]; n.IsDefined()) {
    if (auto s = r.AsString(n, "'window'")) {
      auto d = ParseDuration(*s);
      if (d.ok()) {
        t.window = *d;
      } else {
        r.ErrorAt(n, d.error().message);
      }
    }
  }
  if (YAML::Node n = (*root)["start"]; n.IsDefined()) {
    t.start = ParseTimestampField(r, n, "start");
  } else {
    t.start = project.defaults.start;
  }
  if (YAML::Node n = (*root)["batch"]; n.IsDefined()) {
    if (auto b = r.AsInt(n, "'batch'")) {
      if (*b < 1 || *b > 100000) {
        r.ErrorAt(n, fmt::format("'batch' must be between 1 and 100000 windows, got {}", *b));
      } else {
        t.batch = *b;
      }
    }
  }
  t.time_column = ToLower(r.String(*root, "time_column").value_or(""));
  for (auto& c : r.StringList(*root, "partition_by").value_or(std::vector<std::string>{}))
    t.partition_by.push_back(ToLower(c));
  for (auto& c : r.StringList(*root, "cluster_by").value_or(std::vector<std::string>{}))
    t.cluster_by.push_back(ToLower(c));
  if (YAML::Node n = (*root)["merge"]; n.IsDefined()) t.merge = ParseMerge(r, n);
  t.lookup = r.Bool(*root, "lookup").value_or(false);
  if (YAML::Node n = (*root)["columns"]; n.IsDefined()) t.columns = ParseColumns(r, n);
  if (YAML::Node n = (*root)["tests"]; n.IsDefined()) t.tests = ParseTests(r, n);
  for (auto& test : t.tests) {
    // Like a name in the SQL, an unqualified target is in the table's own dataset.
    if (test.kind == TestDef::Kind::kRelationships && test.to_table.find('.') == std::string::npos) {
      test.to_table = t.dataset + "." + test.to_table;
    }
  }
  ParseSql(r, *root, text, project, &t);

  // Rules that tie fields together.
  if (t.strategy == Strategy::kView) {
    for (const auto& key : kNotForViews) {
      if (!(*root)[key].IsDefined()) continue;
      local.AddError(t.LocationOf(key), fmt::format("'{}' has no meaning for a view: a view has no storage, schedule or "
                                                    "windows, and is complete as far as its inputs are",
                                                    key));
    }
  } else if (t.strategy != Strategy::kReplace) {
    std::string strategy(StrategyName(t.strategy));
    if (t.time_column.empty()) {
      local.AddError(t.LocationOf("strategy"),
                     fmt::format("strategy '{}' needs 'time_column': the output column that places a row in a window",
                                 strategy));
    }
    if (!t.start && !(*root)["start"].IsDefined()) {  // an invalid start is reported already
      local.AddError(t.LocationOf("strategy"),
                     fmt::format("strategy '{}' needs 'start' (on the table or in derived.yaml defaults): the "
                                 "first timestamp to build",
                                 strategy));
    }
  }
  if (t.strategy == Strategy::kMerge && t.merge.keys.empty() && !(*root)["merge"].IsDefined()) {
    local.AddError(t.LocationOf("strategy"), "strategy 'merge' needs 'merge: {keys: [...]}'");
  }
  if (t.strategy != Strategy::kMerge && (*root)["merge"].IsDefined()) {
    local.AddError(t.LocationOf("merge"),
                   fmt::format("'merge' is only used with strategy 'merge' (this table uses '{}')",
                               StrategyName(t.strategy)));
  }
  for (const auto& key : t.merge.keys) {
    if (t.merge.rules.count(key)) {
      local.AddError(t.merge.where, fmt::format("merge key '{}' cannot also have a merge rule", key));
    }
  }

  bool ok = !local.has_errors();
  diags->Merge(std::move(local));
  if (!ok) return std::nullopt;
  return t;
}

}  // namespace derived
