// Parsing of sources/<dataset>/<table>.yaml: raw tables Derived reads but does not build.
#include <fmt/format.h>

#include "config/columns.h"
#include "config/loader.h"
#include "util/strings.h"

namespace derived {
namespace {

const std::vector<std::string> kSourceKeys = {"name",    "dataset",   "description", "owner",  "tags",  "time_column",
                                              "columns", "freshness", "location",    "format", "lookup"};

const std::vector<std::string> kFormats = {"parquet", "csv", "json"};
// DuckDB's readers decompress .gz themselves.
const std::vector<std::pair<std::string, FileFormat>> kExtensions = {
    {".parquet", FileFormat::kParquet}, {".csv", FileFormat::kCsv},     {".csv.gz", FileFormat::kCsv},
    {".json", FileFormat::kJson},       {".jsonl", FileFormat::kJson},  {".ndjson", FileFormat::kJson},
    {".json.gz", FileFormat::kJson}};

std::optional<Freshness> ParseFreshness(YamlReader& r, const YAML::Node& node) {
  constexpr const char* kExpected =
      "expected 'marker', 'static' or {query: SQL returning the timestamp data is complete through}";
  if (node.IsScalar()) {
    std::string v = ToLower(node.Scalar());
    if (v == "marker") return Freshness{Freshness::Kind::kMarker, ""};
    if (v == "static") return Freshness{Freshness::Kind::kStatic, ""};
    r.ErrorAt(node, fmt::format("unknown freshness '{}': {}{}", node.Scalar(), kExpected,
                                DidYouMean(v, {"marker", "static"})));
    return std::nullopt;
  }
  if (!node.IsMap()) {
    r.ErrorAt(node, fmt::format("'freshness' must be 'marker', 'static' or a mapping, got {}: {}",
                                DescribeYamlType(node), kExpected));
    return std::nullopt;
  }
  if (!r.CheckMap(node, "'freshness'", {"query"}, {"query"})) return std::nullopt;
  auto q = r.String(node, "query");
  if (!q) return std::nullopt;
  if (Trim(*q).empty()) {
    r.ErrorAt(node["query"], "the freshness query is empty");
    return std::nullopt;
  }
  return Freshness{Freshness::Kind::kQuery, *q};
}

std::optional<FileFormat> FormatFromExtension(const std::string& location) {
  std::string lower = ToLower(location);
  for (const auto& [ext, format] : kExtensions) {
    if (EndsWith(lower, ext)) return format;
  }
  return std::nullopt;
}

// Reads `location` and `format` into `s`. The format defaults to the one the location's
// extension names.
void ParseFileLocation(YamlReader& r, const YAML::Node& root, SourceDef* s) {
  YAML::Node loc = root["location"], fmt_node = root["format"];
  std::optional<FileFormat> format;
  if (fmt_node.IsDefined()) {
    if (auto f = r.AsString(fmt_node, "'format'")) {
      for (FileFormat known : {FileFormat::kParquet, FileFormat::kCsv, FileFormat::kJson}) {
        if (ToLower(*f) == FileFormatName(known)) format = known;
      }
      if (!format) {
        r.ErrorAt(fmt_node, fmt::format("unknown format '{}': expected parquet, csv or json{}", *f,
                                        DidYouMean(*f, kFormats)));
      }
    }
    if (!loc.IsDefined()) {
      r.diags()->AddError(r.KeyLocation(root, "format"), "'format' is only used with 'location'");
    }
  }
  if (!loc.IsDefined()) return;
  auto l = r.String(root, "location");
  if (!l) return;
  s->location = Trim(*l);
  if (s->location.empty()) {
    r.ErrorAt(loc, "'location' is empty: give a glob of files, such as landing/events/*.parquet");
    return;
  }
  if (!format && !fmt_node.IsDefined()) {
    format = FormatFromExtension(s->location);
    if (!format) {
      r.ErrorAt(loc, fmt::format("cannot tell the format of '{}' from its extension (.parquet, .csv, .csv.gz, "
                                 ".json, .jsonl, .ndjson or .json.gz): add 'format: parquet', 'csv' or 'json'",
                                 s->location));
    }
  }
  if (format) s->format = *format;
}

}  // namespace

std::optional<SourceDef> ParseSourceFile(const std::string& file, const std::string& text,
                                         const std::string& default_dataset, const std::string& default_name,
                                         Diagnostics* diags) {
  Diagnostics local;
  YamlReader r(file, &local);
  auto root = r.Parse(text);
  if (!root || !r.CheckMap(*root, "source", kSourceKeys)) {
    diags->Merge(std::move(local));
    return std::nullopt;
  }
  SourceDef s;
  s.file = file;
  s.field_locations = FieldLocations(r, *root);
  s.dataset = ParseName(r, *root, "dataset", default_dataset);
  s.name = ParseName(r, *root, "name", default_name);
  s.description = r.String(*root, "description").value_or("");
  s.owner = r.String(*root, "owner").value_or("");
  s.tags = r.StringList(*root, "tags").value_or(std::vector<std::string>{});
  s.time_column = ToLower(r.String(*root, "time_column").value_or(""));
  if (YAML::Node n = (*root)["columns"]; n.IsDefined()) s.columns = ParseColumns(r, n);
  ParseFileLocation(r, *root, &s);
  s.lookup = r.Bool(*root, "lookup").value_or(false);
  if (YAML::Node n = (*root)["freshness"]; n.IsDefined()) {
    if (auto f = ParseFreshness(r, n)) s.freshness = *f;
  } else {
    local.AddError({file, 1, 1},
                   "source is missing required field 'freshness': 'marker' (set with `derived source mark`), "
                   "'static' (complete for all time) or {query: SQL}");
  }
  if (!s.time_column.empty() && !s.columns.empty()) {
    bool found = false;
    std::vector<std::string> names;
    for (const auto& c : s.columns) {
      found = found || c.name == s.time_column;
      names.push_back(c.name);
    }
    if (!found) {
      local.AddError(s.LocationOf("time_column"),
                     fmt::format("time_column '{}' is not one of the declared columns{}", s.time_column,
                                 DidYouMean(s.time_column, names)));
    }
  }
  bool ok = !local.has_errors();
  diags->Merge(std::move(local));
  if (!ok) return std::nullopt;
  return s;
}

}  // namespace derived
