#include "warehouse/source_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "db/duckdb.h"
#include "util/strings.h"

namespace derived {
namespace {

// Every schema (with a NULL table), table and view of the warehouse's own database, in
// one catalog query.
constexpr const char* kCatalogQuery =
    "SELECT schema_name, NULL::VARCHAR FROM duckdb_schemas() "
    "WHERE database_name = current_database() "
    "UNION ALL "
    "SELECT schema_name, table_name FROM duckdb_tables() "
    "WHERE database_name = current_database() AND NOT temporary "
    "UNION ALL "
    "SELECT schema_name, view_name FROM duckdb_views() "
    "WHERE database_name = current_database() AND NOT temporary AND NOT internal";

// DuckDB's message when another process holds the file: "Could not set lock on file
// ...: Conflicting lock is held in ... (PID n)".
bool IsLockError(const std::string& message) {
  return message.find("Could not set lock") != std::string::npos ||
         message.find("Conflicting lock") != std::string::npos;
}

}  // namespace

WarehouseCheckResult CheckWarehouseSources(const Project& project, Diagnostics* diags) {
  WarehouseCheckResult result;
  std::vector<const SourceDef*> sources;
  for (const auto& s : project.sources) {
    if (s.location.empty()) sources.push_back(&s);
  }
  if (sources.empty() || project.warehouse.engine != WarehouseEngine::kDuckDb) return result;
  std::filesystem::path path(project.warehouse.path);
  if (path.empty() || path == ":memory:") return result;
  if (path.is_relative()) path = std::filesystem::path(project.root) / path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    result.outcome = WarehouseCheck::kNoWarehouse;
    return result;
  }

  // Read-only: validate never changes the warehouse, and a reader does not block another.
  db::OpenOptions options;
  options.config = {{"access_mode", "READ_ONLY"}, {"threads", "1"}};
  auto db = db::Database::Open(path.string(), options);
  if (!db.ok()) {
    bool in_use = IsLockError(db.error().message);
    result.outcome = in_use ? WarehouseCheck::kInUse : WarehouseCheck::kUnreadable;
    result.note = in_use ? "warehouse-table sources not checked: another process (a running `derived run`?) "
                           "is using the warehouse"
                         : "warehouse-table sources not checked: " + db.error().message;
    return result;
  }
  auto conn = db::Connection::Open(**db);
  auto rows = conn.ok() ? (*conn)->Query(kCatalogQuery) : Result<db::Rows>(conn.error());
  if (!rows.ok()) {
    result.outcome = WarehouseCheck::kUnreadable;
    result.note = "warehouse-table sources not checked: " + rows.error().message;
    return result;
  }
  std::map<std::string, std::vector<std::string>> tables;  // schema -> tables (lowercase)
  for (const auto& row : rows->rows) {
    if (!row[0]) continue;
    std::vector<std::string>& names = tables[ToLower(*row[0])];
    if (row[1]) names.push_back(ToLower(*row[1]));
  }
  std::string file = project.warehouse.path;
  for (const SourceDef* s : sources) {
    std::string dataset = ToLower(s->dataset), name = ToLower(s->name);
    auto it = tables.find(dataset);
    std::string message;
    if (it == tables.end()) {
      std::vector<std::string> schemas;
      for (const auto& [schema, names] : tables) schemas.push_back(schema);
      message = fmt::format(
          "source '{}' is a table in the warehouse (it has no 'location'), but {} has no schema "
          "'{}'{}",
          s->qualified_name(), file, dataset, DidYouMean(dataset, schemas));
    } else {
      const std::vector<std::string>& names = it->second;
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      std::vector<std::string> qualified;
      for (const auto& n : names) qualified.push_back(dataset + "." + n);
      message = fmt::format(
          "source '{}' is a table in the warehouse (it has no 'location'), but {} has no table "
          "'{}'{}",
          s->qualified_name(), file, s->qualified_name(), DidYouMean(s->qualified_name(), qualified));
    }
    diags->AddError({s->file, 1, 0}, message);
  }
  result.outcome = WarehouseCheck::kChecked;
  return result;
}

}  // namespace derived
