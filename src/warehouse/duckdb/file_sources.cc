#include "warehouse/duckdb/file_sources.h"

#include <climits>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "warehouse/duckdb/file_access.h"
#include "util/strings.h"

namespace derived {
namespace {

// The table function reading `files` (a glob, or a list literal of paths) in `format`.
// union_by_name lets files written with an older or newer schema be read together
// (missing columns are NULL). DuckDB sniffs CSV headers, delimiters and types, and JSON's
// layout, itself. `extra` adds options (", filename = true").
std::string Reader(FileFormat format, const std::string& files, const std::string& extra = "") {
  switch (format) {
    case FileFormat::kParquet: return fmt::format("read_parquet({}, union_by_name = true{})", files, extra);
    case FileFormat::kCsv: return fmt::format("read_csv({}, union_by_name = true{})", files, extra);
    case FileFormat::kJson: return fmt::format("read_json({}, format = 'auto', union_by_name = true{})", files, extra);
  }
  return "";
}

std::string Glob(const std::string& root, const SourceDef& s) { return SourceGlob(root, s); }

// A declared column's type as the engine spells it, checked to be one type name: the
// declaration's own text never goes into SQL. Empty when it declares none.
Result<std::string> DeclaredType(Warehouse& wh, const ColumnDef& c) {
  if (c.type.empty()) return std::string();
  auto type = wh.CanonicalType(c.type);
  if (!type.ok()) return Error(fmt::format("column '{}': {}", c.name, type.error().message));
  return type;
}

// Declared columns are selected and cast to their declared types, so the view has the
// schema the type-check assumed; otherwise the files' own columns.
Result<std::string> ViewSql(Warehouse& wh, const SourceDef& s, const std::string& glob) {
  const SqlDialect& d = wh.dialect();
  std::vector<std::string> select;
  for (const auto& c : s.columns) {
    auto type = DeclaredType(wh, c);
    if (!type.ok()) return type.error();
    std::string col = d.Ident(c.name);
    select.push_back(type->empty() ? col : fmt::format("CAST({0} AS {1}) AS {0}", col, *type));
  }
  return fmt::format("CREATE OR REPLACE VIEW {} AS SELECT {} FROM {}", d.Table(s.dataset, s.name),
                     select.empty() ? "*" : Join(select, ", "), Reader(s.format, d.Literal(glob)));
}

// The first line, and for a path the engine may not reach (db/lockdown.h), why.
std::string FirstLine(const std::string& message) {
  std::string line = Split(Trim(message), '\n')[0];
  if (line.find("Permission Error") == std::string::npos) return line;
  return line + " (the engine reads only the project directory and the file-source locations it was opened with: "
                "a location added outside the project is read once `derived run` restarts)";
}

// The first of `s`'s files that cannot be read on its own (project-relative when it is
// inside the project), for an error that names it; nullopt when each reads alone (the
// files disagree with each other) or there are too many to try.
std::optional<std::string> BrokenFile(Warehouse& wh, const std::string& root, const SourceDef& s) {
  auto files = ListFiles(wh, root, s);
  if (!files.ok() || files->size() > 1000) return std::nullopt;
  for (const auto& f : *files) {
    if (wh.Query(fmt::format("DESCRIBE SELECT * FROM {}", Reader(s.format, wh.dialect().Literal(f)))).ok()) continue;
    std::string rel = std::filesystem::path(f).lexically_relative(root).string();
    return rel.empty() || rel.starts_with("..") ? f : rel;
  }
  return std::nullopt;
}

// Why `s` cannot be read, or nullopt once its view reads its files. An error is the
// warehouse failing, not the files.
Result<std::optional<std::string>> Attach(Warehouse& wh, const std::string& root, const SourceDef& s) {
  const SqlDialect& d = wh.dialect();
  const std::string glob = Glob(root, s);
  std::string reason;
  auto files = wh.Query(fmt::format("SELECT count(*) FROM glob({})", d.Literal(glob)));
  if (!files.ok()) {
    reason = fmt::format("cannot list {}: {}", s.location, FirstLine(files.error().message));
  } else if (files->at(0, 0) == "0") {
    reason = fmt::format("no file matches {} yet", s.location);
  } else {
    auto view = ViewSql(wh, s, glob);
    // Creating the view reads the files' schemas, so a broken file fails it here.
    Status st = !view.ok() ? Status(view.error()) : InTransaction(wh, [&] {
      if (auto st = wh.EnsureDataset(s.dataset); !st.ok()) return st;
      return wh.Execute(*view);
    });
    if (st.ok()) return std::optional<std::string>();
    reason = !view.ok() ? fmt::format("{}: {}", s.file, view.error().message)
                        : fmt::format("cannot read {}: {}", BrokenFile(wh, root, s).value_or(s.location),
                                      FirstLine(st.error().message));
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

Result<std::vector<std::string>> ListFiles(Warehouse& wh, const std::string& root, const SourceDef& s) {
  auto rows = wh.Query(fmt::format("SELECT file FROM glob({}) ORDER BY file", wh.dialect().Literal(Glob(root, s))));
  if (!rows.ok()) return rows.error();
  std::vector<std::string> out;
  for (const auto& r : rows->rows) out.push_back(r[0].value_or(""));
  return out;
}

Result<std::map<std::string, DayDigests>> FileDayDigests(Warehouse& wh, const SourceDef& s,
                                                         const std::vector<std::string>& paths) {
  std::map<std::string, DayDigests> out;
  if (paths.empty()) return out;
  const SqlDialect& d = wh.dialect();
  std::vector<std::string> quoted;
  for (const auto& p : paths) quoted.push_back(d.Literal(p));
  // The declared type first, as the source's view reads it; then as an instant.
  std::string tc = "r." + d.Ident(s.time_column);
  for (const auto& c : s.columns) {
    if (c.name != s.time_column) continue;
    auto type = DeclaredType(wh, c);
    if (!type.ok()) return type.error();
    if (!type->empty()) tc = fmt::format("TRY_CAST({} AS {})", tc, *type);
  }
  auto rows = wh.Query(fmt::format(
      "SELECT r.filename, CAST(epoch(date_trunc('day', TRY_CAST({} AS TIMESTAMP))) AS BIGINT), "
      "CAST(count(*) AS VARCHAR) || ':' || CAST(sum(hash(r)) AS VARCHAR) FROM {} AS r GROUP BY ALL",
      tc, Reader(s.format, "[" + Join(quoted, ", ") + "]", ", filename = true")));
  if (!rows.ok()) return rows.error();
  for (const auto& r : rows->rows) {
    int64_t day = r[1] ? std::stoll(*r[1]) : INT64_MIN;
    out[r[0].value_or("")][day] = r[2].value_or("");
  }
  return out;
}

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
