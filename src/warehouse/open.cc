// Opening the warehouse a project configures, whichever engine it is.
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "warehouse/duckdb/file_access.h"
#include "compile/typecheck.h"
#include "warehouse/duckdb/typecheck.h"
#include "warehouse/duckdb/warehouse.h"
#include "warehouse/postgres/typecheck.h"
#include "warehouse/postgres/warehouse.h"
#include "warehouse/warehouse.h"

namespace derived {
namespace {

std::string WarehousePath(const Project& project) {
  std::filesystem::path path(project.warehouse.path);
  if (path.is_relative()) path = std::filesystem::path(project.root) / path;
  return path.string();
}

bool IsNameChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

}  // namespace

namespace {

// Calls on_text(text) for each run of plain text and on_name(NAME) for each ${NAME} of
// `text`, in order; an error for a malformed reference.
template <typename OnText, typename OnName>
Status ScanReferences(const std::string& text, const std::string& field, OnText&& on_text, OnName&& on_name) {
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") != 0) {
      on_text(text[i++]);
      continue;
    }
    size_t end = text.find('}', i + 2);
    std::string name = end == std::string::npos ? "" : text.substr(i + 2, end - i - 2);
    bool valid = !name.empty();
    for (size_t k = 0; k < name.size(); ++k) valid = valid && IsNameChar(name[k], k == 0);
    if (!valid) return Error(fmt::format("{}: '${{' must start a reference like ${{NAME}} to an environment variable", field));
    if (auto st = on_name(name); !st.ok()) return st;
    i = end + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ExpandEnvironment(const std::string& text, const std::string& field) {
  std::string out;
  auto st = ScanReferences(
      text, field, [&](char c) { out += c; },
      [&](const std::string& name) -> Status {
        const char* value = std::getenv(name.c_str());
        if (!value) return Error(fmt::format("{}: the environment variable {} is not set", field, name));
        out += value;
        return Status::Ok();
      });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::vector<std::string>> EnvironmentReferences(const std::string& text, const std::string& field) {
  std::vector<std::string> names;
  auto st = ScanReferences(
      text, field, [](char) {},
      [&](const std::string& name) -> Status {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        return Status::Ok();
      });
  if (!st.ok()) return st.error();
  return names;
}

Capabilities CapabilitiesOf(WarehouseEngine engine) {
  Capabilities c;
  c.shared = engine == WarehouseEngine::kPostgres;
  return c;
}

Result<std::unique_ptr<Warehouse>> OpenWarehouse(const Project& project) {
  switch (project.warehouse.engine) {
    case WarehouseEngine::kDuckDb:
      return OpenDuckDbWarehouse(WarehousePath(project), ProjectFileAccess(project));
    case WarehouseEngine::kPostgres: {
      auto options = PostgresConnectOptions(project.warehouse.dsn);
      if (!options.ok()) return Error("derived.yaml: " + options.error().message);
      return OpenPostgresWarehouse(*options);
    }
  }
  return Error("unknown warehouse engine");
}

// The type-checker of the engine the project runs on.
Result<std::unique_ptr<TypeChecker>> CreateTypeChecker(const Project& project) {
  switch (project.warehouse.engine) {
    case WarehouseEngine::kDuckDb:
      return DuckDbTypeChecker::Create(ProjectFileAccess(project));
    case WarehouseEngine::kPostgres: {
      auto options = PostgresConnectOptions(project.warehouse.dsn);
      if (!options.ok()) return Error("derived.yaml: " + options.error().message);
      auto tc = CreatePostgresTypeChecker(*options);
      if (!tc.ok()) return Error("a PostgreSQL project is type-checked by its server: " + tc.error().message);
      return tc;
    }
  }
  return Error("unknown warehouse engine");
}

bool WarehouseExists(const Project& project) {
  if (project.warehouse.engine != WarehouseEngine::kDuckDb) return true;  // a server is there, or opening says why not
  std::error_code ec;
  return std::filesystem::exists(WarehousePath(project), ec);
}

}  // namespace derived

namespace derived {

Result<std::vector<std::string>> Warehouse::Schemas(std::string_view prefix) {
  auto rows = Query(
      "SELECT DISTINCT schema_name FROM information_schema.schemata WHERE catalog_name = current_database() ORDER BY 1");
  if (!rows.ok()) return rows.error();
  std::vector<std::string> out;
  for (const auto& r : rows->rows) {
    if (r[0] && std::string_view(*r[0]).substr(0, prefix.size()) == prefix) out.push_back(*r[0]);
  }
  return out;
}

Status Warehouse::DropSchema(const std::string& schema) {
  return Execute("DROP SCHEMA IF EXISTS " + dialect().Ident(schema) + " CASCADE");
}

}  // namespace derived
