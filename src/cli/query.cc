// `derived query`: SQL against the project's warehouse.
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/text_table.h"
#include "config/loader.h"
#include "service/service.h"
#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived::cli {
namespace {

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void PrintRows(const db::Rows& rows, bool json, std::ostream& out) {
  if (json) {
    for (const auto& obj : rows.ToJson()) out << obj.dump() << "\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows.rows) {
    std::vector<std::string> line;
    for (const auto& v : r) line.push_back(v.value_or("NULL"));
    cells.push_back(std::move(line));
  }
  PrintTextTable(out, rows.columns, cells);
}

// The project's warehouse without compiling its tables.
Result<std::unique_ptr<Warehouse>> OpenProjectWarehouse(const CommonOptions& opts) {
  if (opts.service) return opts.service->Connect();
  Diagnostics diags;
  LoadOptions load;
  load.project_file_only = true;
  auto project = LoadProject(opts.project, &diags, load);
  if (!project.ok()) return project.error();
  return OpenWarehouse(*project);
}

}  // namespace

int Query(const CommonOptions& opts, const std::string& sql, const std::string& file, bool json, std::ostream& out,
          std::ostream& err) {
  std::string text = sql;
  if (!file.empty()) {
    bool ok = false;
    text = ReadFile(file, &ok);
    if (!ok) {
      err << "error: cannot read '" << file << "'\n";
      return 2;
    }
  }
  if (Trim(text).empty()) {
    err << "error: give a query, or --file with one\n";
    return 2;
  }
  auto wh = OpenProjectWarehouse(opts);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return 1;
  }
  // Statements before the last run for their effect; the last one's rows are printed.
  auto rows = (*wh)->Query(text);
  if (!rows.ok()) {
    err << "error: " << (file.empty() ? "" : file + ": ") << rows.error().message << "\n";
    return 1;
  }
  PrintRows(*rows, json, out);
  return 0;
}

}  // namespace derived::cli
