// Parsing of derived.yaml, the project's root file.
#include <optional>

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

// Why a connection string cannot be used, or nullopt. Passwords stay out of project
// files, which live in git: libpq reads them from PGPASSWORD, ~/.pgpass or a service file.
std::optional<std::string> DsnProblem(const std::string& dsn) {
  if (Trim(dsn).empty()) return "'dsn' is empty: expected a libpq connection string such as \"host=127.0.0.1 dbname=analytics user=derived\"";
  if (dsn.size() > 4096) return "'dsn' is longer than 4096 characters";
  std::string lower = ToLower(dsn);
  // A URI's parameters may be percent-encoded (?pass%77ord=): read them decoded.
  if (lower.find("://") != std::string::npos) {
    std::string decoded;
    for (size_t i = 0; i < lower.size(); ++i) {
      if (lower[i] == '%' && i + 2 < lower.size() && std::isxdigit(static_cast<unsigned char>(lower[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(lower[i + 2]))) {
        decoded += static_cast<char>(std::stoi(lower.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += lower[i];
      }
    }
    lower = ToLower(decoded);
  }
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  bool keyword = false;
  for (size_t at = lower.find("password"); at != std::string::npos; at = lower.find("password", at + 1)) {
    size_t after = at + 8;
    while (after < lower.size() && space(lower[after])) ++after;
    // sslpassword (a client key's passphrase) counts too.
    size_t word = at >= 3 && lower.compare(at - 3, 3, "ssl") == 0 ? at - 3 : at;
    bool starts_word = word == 0 || space(lower[word - 1]) || lower[word - 1] == '?' || lower[word - 1] == '&';
    if (!starts_word || after >= lower.size() || lower[after] != '=') continue;
    size_t value = after + 1;
    while (value < lower.size() && (space(lower[value]) || lower[value] == '\'')) ++value;
    // Only a value that is one whole ${NAME} is fine: the password comes from the environment.
    size_t close = lower.find('}', value);
    bool whole = lower.compare(value, 2, "${") == 0 && close != std::string::npos &&
                 (close + 1 == lower.size() || space(lower[close + 1]) || lower[close + 1] == '\'' ||
                  lower[close + 1] == '&');
    if (!whole) keyword = true;
  }
  // postgresql://user:secret@host/db
  size_t scheme = lower.find("://");
  bool uri_password = false;
  if (scheme != std::string::npos && lower.find('@', scheme) != std::string::npos) {
    std::string user_info = lower.substr(scheme + 3, lower.find('@', scheme) - scheme - 3);
    size_t colon = user_info.find(':');
    uri_password = colon != std::string::npos && user_info.compare(colon + 1, 2, "${") != 0;
  }
  if (keyword || uri_password) {
    return "'dsn' must not hold a password (project files are shared in git): set PGPASSWORD, use ~/.pgpass or a "
           "PGSERVICE file, or write password=${NAME} to take it from the environment variable NAME";
  }
  return std::nullopt;
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
  if (!r.CheckMap(*root, "derived.yaml", {"name", "warehouse", "vars", "defaults", "removed_tables", "limits", "shadow"}, {"name"})) {
    return Error("invalid derived.yaml");
  }
  project->name = r.String(*root, "name").value_or("");
  if (YAML::Node w = (*root)["warehouse"]; w.IsDefined()) {
    if (r.CheckMap(w, "'warehouse'", {"engine", "path", "dsn"})) {
      if (auto engine = r.String(w, "engine")) {
        std::string e = ToLower(*engine);
        if (e == "duckdb") {
          project->warehouse.engine = WarehouseEngine::kDuckDb;
        } else if (e == "postgres" || e == "postgresql") {
          project->warehouse.engine = WarehouseEngine::kPostgres;
        } else {
          r.ErrorAt(w["engine"], fmt::format("unsupported warehouse engine '{}': expected 'duckdb' or 'postgres'{}",
                                             *engine, DidYouMean(*engine, {"duckdb", "postgres"})));
        }
      }
      bool postgres = project->warehouse.engine == WarehouseEngine::kPostgres;
      if (auto path = r.String(w, "path")) {
        if (postgres) r.ErrorAt(w["path"], "'path' is for a DuckDB warehouse; a PostgreSQL warehouse takes 'dsn'");
        project->warehouse.path = *path;
      }
      if (auto dsn = r.String(w, "dsn")) {
        if (!postgres) r.ErrorAt(w["dsn"], "'dsn' is for a PostgreSQL warehouse (engine: postgres)");
        if (auto why = DsnProblem(*dsn)) r.ErrorAt(w["dsn"], *why);
        project->warehouse.dsn = *dsn;
      } else if (postgres) {
        r.ErrorAt(w, "a PostgreSQL warehouse needs 'dsn', e.g. dsn: \"host=127.0.0.1 port=5432 dbname=analytics user=derived\"");
      }
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
  if (YAML::Node sh = (*root)["shadow"]; sh.IsDefined()) {
    if (r.CheckMap(sh, "'shadow'", {"last", "expire_after"})) {
      for (const char* key : {"last", "expire_after"}) {
        auto s = r.String(sh, key);
        if (!s) continue;
        auto d = ParseDuration(*s);
        if (!d.ok()) {
          r.ErrorAt(sh[key], fmt::format("shadow.{}: {}", key, d.error().message));
        } else if (d->count <= 0) {
          r.ErrorAt(sh[key], fmt::format("shadow.{} must be longer than zero", key));
        } else {
          (std::string_view(key) == "last" ? project->shadow.last : project->shadow.expire_after) = *d;
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
