#include "warehouse/file_sources.h"

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {
namespace {

// The table function reading `glob` in `format`. union_by_name lets files written with
// an older or newer schema be read together (missing columns are NULL). DuckDB sniffs
// CSV headers, delimiters and types, and JSON's layout, itself.
std::string Reader(const SqlDialect& d, FileFormat format, const std::string& glob) {
  switch (format) {
    case FileFormat::kParquet: return fmt::format("read_parquet({}, union_by_name = true)", d.Literal(glob));
    case FileFormat::kCsv: return fmt::format("read_csv({}, union_by_name = true)", d.Literal(glob));
    case FileFormat::kJson: return fmt::format("read_json({}, format = 'auto', union_by_name = true)", d.Literal(glob));
  }
  return "";
}

// Declared columns are selected and cast to their declared types, so the view has the
// schema the type-check assumed; otherwise the files' own columns.
std::string ViewSql(const SqlDialect& d, const SourceDef& s, const std::string& glob) {
  std::vector<std::string> select;
  for (const auto& c : s.columns) {
    std::string col = d.Ident(c.name);
    select.push_back(c.type.empty() ? col : fmt::format("CAST({0} AS {1}) AS {0}", col, c.type));
  }
  return fmt::format("CREATE OR REPLACE VIEW {} AS SELECT {} FROM {}", d.Table(s.dataset, s.name),
                     select.empty() ? "*" : Join(select, ", "), Reader(d, s.format, glob));
}

std::string FirstLine(const std::string& message) { return Split(Trim(message), '\n')[0]; }

// Why `s` cannot be read, or nullopt once its view reads its files. An error is the
// warehouse failing, not the files.
Result<std::optional<std::string>> Attach(Warehouse& wh, const std::string& root, const SourceDef& s) {
  const SqlDialect& d = wh.dialect();
  std::filesystem::path path(s.location);
  if (path.is_relative()) path = std::filesystem::path(root) / path;
  const std::string glob = path.lexically_normal().string();
  std::string reason;
  auto files = wh.Query(fmt::format("SELECT count(*) FROM glob({})", d.Literal(glob)));
  if (!files.ok()) {
    reason = fmt::format("cannot list {}: {}", s.location, FirstLine(files.error().message));
  } else if (files->at(0, 0) == "0") {
    reason = fmt::format("no file matches {} yet", s.location);
  } else {
    // Creating the view reads the files' schemas, so a broken file fails it here.
    Status st = InTransaction(wh, [&] {
      if (auto st = wh.EnsureDataset(s.dataset); !st.ok()) return st;
      return wh.Execute(ViewSql(d, s, glob));
    });
    if (st.ok()) return std::optional<std::string>();
    reason = fmt::format("cannot read {}: {}", s.location, FirstLine(st.error().message));
  }
  // A view from an earlier attach would read files that are gone or now unreadable.
  // Only a view: a table of that name is not ours to drop.
  auto view = wh.Query(fmt::format(
      "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND "
      "table_schema = {} AND table_name = {} AND table_type = 'VIEW'",
      d.Literal(s.dataset), d.Literal(s.name)));
  if (!view.ok()) return view.error();
  if (view->at(0, 0) != "0") {
    if (auto st = wh.Execute("DROP VIEW " + d.Table(s.dataset, s.name)); !st.ok()) return st.error();
  }
  return std::optional<std::string>(reason);
}

}  // namespace

Result<std::map<std::string, std::string>> AttachFileSources(Warehouse& wh, const Project& project) {
  std::map<std::string, std::string> unattached;
  for (const auto& s : project.sources) {
    if (s.location.empty()) continue;
    auto reason = Attach(wh, project.root, s);
    if (!reason.ok()) {
      return Error(fmt::format("cannot attach source {}: {}", s.qualified_name(), reason.error().message));
    }
    if (*reason) unattached[s.qualified_name()] = **reason;
  }
  return unattached;
}

}  // namespace derived
