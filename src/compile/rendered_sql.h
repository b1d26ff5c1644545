// SQL rendered from a table's template (or a custom test's) with where each byte came
// from, so an error the engine reports about the SQL names the template file, line and
// column that produced it, whatever whitespace control, comments, loops and macros lie
// in between. CompiledProject::RenderMapped and RenderTest make these.
//
// At run time, with the query checked and embedded in a statement (sql/embed.h, as the
// builder does it):
//
//   auto r = cp.RenderMapped(table, window, initial);
//   auto q = wh.CheckQuery(r->sql());  // exactly one SELECT; q->text() is StripStatement(r->sql())
//   auto e = sql::Embedding::Subquery("SELECT * FROM ", "q", "", "INSERT INTO t ", sql::StatementType::kInsert);
//   ... wh.QueryEmbedded(*q, e) fails with `message` ...
//   if (auto o = r->LocateEngineError(message, e.QueryLine(), RenderedSql::Embedding::kStripped))
//     error = Error(WithoutEngineExcerpt(message) + o->Note(), o->where);
//   // or, equivalently: r->LocateEngineError(message, e.Statement(q->text()))
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "compile/placement.h"
#include "template/source_map.h"
#include "util/status.h"

namespace derived {

// Where one byte of rendered SQL came from.
struct SqlOrigin {
  // The template file (the table's YAML, its sql_file, or a macro file), line and column
  // (in characters; 0 when it cannot be known exactly) that wrote the byte.
  Location where;
  // The line in the table's own template of the statement that wrote it: the same line
  // as `where`, except for text a macro wrote, where it is the line of the macro call.
  Location site;
  std::string macro;  // the macro called at `site`, if any

  // " (in macro 'm' called from tables/x.yaml:7)", or "" outside macros.
  std::string Note() const;
};

class RenderedSql {
 public:
  RenderedSql() = default;
  RenderedSql(std::string sql, tmpl::SourceMap map, PlacementSet placements)
      : sql_(std::move(sql)), map_(std::move(map)), placements_(std::move(placements)) {}

  const std::string& sql() const { return sql_; }

  // The origin of byte `offset` of sql() (past the end: the last byte's).
  SqlOrigin OriginAt(size_t offset) const;
  // The origin of a 1-based line and column of sql(), as a parser reports them; column 0
  // means the line's first byte, and then the result has no column either.
  SqlOrigin OriginAt(int line, int column) const;

  // How a statement holds the SQL: sql() itself, or StripStatement(sql()) (surrounding
  // whitespace and trailing semicolons removed) as the builder and the audit embed it.
  enum class Embedding { kVerbatim, kStripped };

  // Where an engine error message about a statement embedding the SQL points in the
  // template, when the message says: DuckDB's "LINE n: <excerpt>" with the caret "^"
  // under the error, n counting the statement's lines. `first_line` is the line of the
  // statement on which the embedded SQL begins, at the line's start: 1 when the statement
  // is the SQL itself, 1 + the newlines before it otherwise (2 for the builder's
  // "...(\n" + sql + "\n) AS q" with the prefix on one line). The column is left out when
  // the excerpt does not pin it down (non-ASCII text before the caret, an ambiguous
  // excerpt). nullopt when the message carries no position or it lies outside the SQL.
  std::optional<SqlOrigin> LocateEngineError(std::string_view message, int first_line = 1,
                                             Embedding embedding = Embedding::kVerbatim) const;
  // The same, finding the SQL (verbatim, else stripped) in `statement`, where it must
  // begin a line.
  std::optional<SqlOrigin> LocateEngineError(std::string_view message, std::string_view statement) const;

 private:
  std::string sql_;
  tmpl::SourceMap map_;
  PlacementSet placements_;
};

// The origin of byte `offset` of a rendering whose map is `map`: RenderedSql::OriginAt
// for a caller that keeps the map apart from the SQL (the compiler).
SqlOrigin OriginOf(const tmpl::SourceMap& map, const PlacementSet& placements, size_t offset);
// The byte offset in `text` of a 1-based line and column (column 0 or 1: the line's start).
size_t OffsetOfLineColumn(std::string_view text, int line, int column);

// The message without DuckDB's "LINE n: ..." excerpt and caret, which number the lines
// of the statement the engine ran rather than the template's.
std::string WithoutEngineExcerpt(std::string_view message);

}  // namespace derived
