#include "engine/query_errors.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {

Error QueryRefused(const TableDef& def, const RenderedSql* rendered, const Error& e) {
  std::string why = e.where.line > 0 ? "invalid SQL: " + e.message : e.message;
  Location at{def.sql.file, def.sql.first_line, 0};
  std::string note;
  if (e.where.line > 0 && rendered) {
    // The position counts in the rendering without its leading space (as Trim drops it).
    std::string_view sql = rendered->sql();
    size_t start = std::min(sql.find_first_not_of(" \t\n\v\f\r"), sql.size());
    size_t offset = start + OffsetOfLineColumn(sql.substr(start), e.where.line, e.where.column);
    SqlOrigin o = rendered->OriginAt(offset);
    at = o.where;
    note = o.Note();
  }
  return Error(fmt::format("{}: the query was not run: {}{}", at.ToString(), why, note), at);
}

Error QueryFailed(const TableDef& def, const RenderedSql* rendered, const Error& e, int query_line) {
  if (rendered) {
    if (auto o = rendered->LocateEngineError(e.message, query_line, RenderedSql::Embedding::kStripped)) {
      return Error(
          fmt::format("{}: the query failed: {}{}", o->where.ToString(), WithoutEngineExcerpt(e.message), o->Note()),
          o->where);
    }
  }
  // No position (PostgreSQL gives executor errors none): the line where the query starts.
  Location at{def.sql.file, def.sql.first_line, 0};
  return Error(fmt::format("{}: the query failed: {}", at.ToString(), WithoutEngineExcerpt(e.message)), at);
}

Error RowsOutsideWindow(const TableDef& def, Window window, const Result<RowsOutside>& outside) {
  std::string count = outside.ok() ? std::to_string(outside->count) : "some";
  std::string range = outside.ok() ? fmt::format(" (from {} to {})", outside->min, outside->max) : "";
  return Error(fmt::format("{}: the query returned {} row{} whose time_column '{}' is outside the window [{}, {}){}; "
                           "an append table's query must only return rows of the window it builds: filter on "
                           "{{{{ window_start }}}} and {{{{ window_end }}}}",
                           def.file, count, count == "1" ? "" : "s", def.time_column, FormatIso(window.start),
                           FormatIso(window.end), range));
}

Error RowsWithNullKey(const TableDef& def, const Result<int64_t>& count) {
  return Error(fmt::format("{}: the query returned {} row(s) with a NULL merge key ({})", def.file,
                           count.ok() ? std::to_string(*count) : "some", Join(def.merge.keys, ", ")));
}

}  // namespace derived
