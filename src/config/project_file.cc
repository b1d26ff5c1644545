// Parsing of derived.yaml, the project's root file.
#include <fmt/format.h>

#include "config/loader.h"
#include "config/yaml_reader.h"
#include "util/strings.h"

namespace derived {
namespace {

// YAML values become JSON values: quoted scalars stay strings, plain ones are read as
// the number, boolean or null they spell (as a YAML 1.2 core schema reader would).
nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(ToJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.Scalar()] = ToJson(kv.second);
      return obj;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted
      std::string lower = ToLower(s);
      if (lower == "true") return true;
      if (lower == "false") return false;
      if (lower == "null" || s == "~") return nullptr;
      try {
        size_t used = 0;
        long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
        double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (const std::exception&) {
      }
      return s;
    }
    default: return nullptr;
  }
}

}  // namespace

Status ParseProjectFile(const std::string& file, const std::string& text, Project* project, Diagnostics* diags) {
  YamlReader r(file, diags);
  size_t before = diags->error_count();
  auto root = r.Parse(text);
  if (!root) return Error("invalid derived.yaml");
  if (root->IsNull()) {
    diags->AddError({file, 1, 1}, "derived.yaml is empty: it needs at least 'name'");
    return Error("invalid derived.yaml");
  }
  if (!r.CheckMap(*root, "derived.yaml", {"name", "warehouse", "vars", "defaults", "removed_tables", "limits"}, {"name"})) {
    return Error("invalid derived.yaml");
  }
  project->name = r.String(*root, "name").value_or("");
  if (YAML::Node w = (*root)["warehouse"]; w.IsDefined()) {
    if (r.CheckMap(w, "'warehouse'", {"engine", "path"})) {
      if (auto engine = r.String(w, "engine")) {
        std::string e = ToLower(*engine);
        if (e != "duckdb") {
          r.ErrorAt(w["engine"], fmt::format("unsupported warehouse engine '{}': expected 'duckdb'{}", *engine,
                                             DidYouMean(*engine, {"duckdb"})));
        }
        project->warehouse.engine = e;
      }
      if (auto path = r.String(w, "path")) project->warehouse.path = *path;
    }
  }
  if (YAML::Node v = (*root)["vars"]; v.IsDefined()) {
    if (!v.IsMap()) {
      r.ErrorAt(v, fmt::format("'vars' must be a mapping of names to values, got {}", DescribeYamlType(v)));
    } else {
      project->vars = ToJson(v);
    }
  }
  if (YAML::Node d = (*root)["defaults"]; d.IsDefined()) {
    if (r.CheckMap(d, "'defaults'", {"start", "schedule", "owner"})) {
      if (auto s = r.String(d, "start")) {
        auto ts = ParseUserTimestamp(*s);
        if (ts.ok()) {
          project->defaults.start = *ts;
        } else {
          r.ErrorAt(d["start"], ts.error().message);
        }
      }
      if (auto s = r.String(d, "schedule")) {
        auto sched = ParseSchedule(*s);
        if (sched.ok()) {
          project->defaults.schedule = *sched;
        } else {
          r.ErrorAt(d["schedule"], sched.error().message);
        }
      }
      project->defaults.owner = r.String(d, "owner").value_or("");
    }
  }
  if (YAML::Node rt = (*root)["removed_tables"]; rt.IsDefined()) {
    if (r.CheckMap(rt, "'removed_tables'", {"keep_for"})) {
      if (auto s = r.String(rt, "keep_for")) {
        auto d = ParseDuration(*s);
        if (d.ok()) {
          project->removed_table_retention = *d;
        } else {
          r.ErrorAt(rt["keep_for"], "removed_tables.keep_for: " + d.error().message);
        }
      }
    }
  }
  if (YAML::Node lim = (*root)["limits"]; lim.IsDefined()) {
    if (r.CheckMap(lim, "'limits'", {"max_windows_per_run"})) {
      if (auto n = r.Int(lim, "max_windows_per_run")) {
        if (*n < 1) {
          r.ErrorAt(lim["max_windows_per_run"], "limits.max_windows_per_run must be at least 1");
        } else {
          project->max_windows_per_run = *n;
        }
      }
    }
  }
  if (diags->error_count() > before) return Error("invalid derived.yaml");
  return Status::Ok();
}

}  // namespace derived
