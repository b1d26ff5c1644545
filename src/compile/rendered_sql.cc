#include "compile/rendered_sql.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "util/strings.h"

namespace derived {
namespace {

// Byte offsets where each line of `text` starts.
std::vector<size_t> LineStarts(std::string_view text) {
  std::vector<size_t> starts = {0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  return starts;
}

std::string_view LineAt(std::string_view text, const std::vector<size_t>& starts, size_t index) {
  size_t begin = starts[index];
  size_t end = index + 1 < starts.size() ? starts[index + 1] - 1 : text.size();
  return text.substr(begin, end - begin);
}

// DuckDB's excerpt: "LINE n: " + ["..."] + part of line n + ["..."], and under it the
// caret, indented by the excerpt's render width up to the error. Found from the end: the
// excerpt is always the message's last part.
struct Excerpt {
  int line = 0;
  std::string_view shown;  // the part of line n shown, without the truncation marks
  bool cut_start = false;
  size_t caret = 0;  // render width of `shown` before the caret
  size_t begin = 0;  // offset in the message where the excerpt starts
};

std::optional<Excerpt> FindExcerpt(std::string_view message) {
  for (size_t at = message.rfind("LINE "); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : message.rfind("LINE ", at - 1)) {
    if (at > 0 && message[at - 1] != '\n') continue;
    size_t p = at + 5;
    int line = 0;
    while (p < message.size() && std::isdigit(static_cast<unsigned char>(message[p])) && line < 100000000) {
      line = line * 10 + (message[p++] - '0');
    }
    if (line == 0 || message.substr(p, 2) != ": ") continue;
    size_t text_start = p + 2;
    size_t nl = message.find('\n', text_start);
    if (nl == std::string_view::npos) continue;
    size_t caret_end = message.find('\n', nl + 1);
    std::string_view caret_line =
        message.substr(nl + 1, caret_end == std::string_view::npos ? caret_end : caret_end - nl - 1);
    size_t spaces = caret_line.find_first_not_of(' ');
    if (spaces == std::string_view::npos || caret_line[spaces] != '^' || spaces < text_start - at) continue;
    Excerpt e;
    e.line = line;
    e.begin = at;
    e.shown = message.substr(text_start, nl - text_start);
    e.caret = spaces - (text_start - at);
    if (e.shown.substr(0, 3) == "...") {
      if (e.caret < 3) continue;
      e.cut_start = true;
      e.shown.remove_prefix(3);
      e.caret -= 3;
    }
    return e;
  }
  return std::nullopt;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// The byte offset within `line` of the caret, when the excerpt pins it down.
std::optional<size_t> CaretInLine(const Excerpt& e, std::string_view line) {
  // Render widths equal bytes only for ASCII; elsewhere the caret's byte is not known.
  if (e.caret > e.shown.size() || !IsAscii(e.shown.substr(0, e.caret))) return std::nullopt;
  // The excerpt may also be cut at the end ("..."), and the line may itself end in "...".
  std::vector<std::string_view> candidates = {e.shown};
  if (e.shown.size() >= 3 && e.shown.substr(e.shown.size() - 3) == "...") {
    candidates.push_back(e.shown.substr(0, e.shown.size() - 3));
  }
  for (std::string_view shown : candidates) {
    if (shown.size() < e.caret) continue;
    if (!e.cut_start) {
      if (line.substr(0, shown.size()) == shown) return e.caret;
      continue;
    }
    size_t at = line.find(shown);
    if (at == std::string_view::npos) continue;
    if (line.find(shown, at + 1) != std::string_view::npos) return std::nullopt;  // ambiguous
    return at + e.caret;
  }
  return std::nullopt;
}

}  // namespace

std::string SqlOrigin::Note() const {
  if (macro.empty()) return "";
  return " (in macro '" + macro + "' called from " + site.ToString() + ")";
}

SqlOrigin OriginOf(const tmpl::SourceMap& map, const PlacementSet& placements, size_t offset) {
  SqlOrigin out;
  tmpl::Origin o = map.At(offset);
  if (o.line <= 0) {
    // Nothing was rendered: the start of the template.
    if (placements.own) out.where = out.site = {placements.own->file(), placements.own->first_line(), 0};
    return out;
  }
  std::string file(o.file);
  out.where = placements.Place(file, o.line, o.column);
  out.macro = std::string(o.macro);
  if (o.macro.empty()) {
    out.site = out.where;
  } else {
    out.site = placements.Place(placements.own ? placements.own->file() : file, o.site_line, 0);
  }
  return out;
}

size_t OffsetOfLineColumn(std::string_view text, int line, int column) {
  size_t offset = 0;
  for (int l = 1; l < line; ++l) {
    size_t nl = text.find('\n', offset);
    if (nl == std::string_view::npos) break;
    offset = nl + 1;
  }
  return offset + static_cast<size_t>(std::max(column, 1) - 1);
}

SqlOrigin RenderedSql::OriginAt(size_t offset) const { return OriginOf(map_, placements_, offset); }

SqlOrigin RenderedSql::OriginAt(int line, int column) const {
  SqlOrigin o = OriginAt(OffsetOfLineColumn(sql_, line, column));
  if (column <= 0) o.where.column = 0;
  return o;
}

std::optional<SqlOrigin> RenderedSql::LocateEngineError(std::string_view message, int first_line,
                                                        Embedding embedding) const {
  std::optional<Excerpt> e = FindExcerpt(message);
  if (!e) return std::nullopt;
  // The embedded text and where it starts in sql().
  std::string stripped;
  std::string_view embedded = sql_;
  size_t start = 0;
  if (embedding == Embedding::kStripped) {
    stripped = StripStatement(sql_);
    start = sql_.find(stripped);
    if (start == std::string::npos) return std::nullopt;
    embedded = std::string_view(sql_).substr(start, stripped.size());
  }
  int line = e->line - first_line + 1;
  std::vector<size_t> starts = LineStarts(embedded);
  if (line < 1 || static_cast<size_t>(line) > starts.size()) return std::nullopt;
  size_t line_start = starts[static_cast<size_t>(line - 1)];
  std::optional<size_t> byte = CaretInLine(*e, LineAt(embedded, starts, static_cast<size_t>(line - 1)));
  SqlOrigin o = OriginAt(start + line_start + byte.value_or(0));
  if (!byte) o.where.column = 0;
  return o;
}

std::optional<SqlOrigin> RenderedSql::LocateEngineError(std::string_view message,
                                                        std::string_view statement) const {
  auto first_line_of = [&](std::string_view text) -> std::optional<int> {
    size_t at = text.empty() ? std::string_view::npos : statement.find(text);
    if (at == std::string_view::npos || (at > 0 && statement[at - 1] != '\n')) return std::nullopt;
    return 1 +
           static_cast<int>(std::count(statement.begin(), statement.begin() + static_cast<long>(at), '\n'));
  };
  if (auto line = first_line_of(sql_)) return LocateEngineError(message, *line, Embedding::kVerbatim);
  if (auto line = first_line_of(StripStatement(sql_)))
    return LocateEngineError(message, *line, Embedding::kStripped);
  return std::nullopt;
}

std::string WithoutEngineExcerpt(std::string_view message) {
  std::optional<Excerpt> e = FindExcerpt(message);
  if (!e) return std::string(message);
  std::string_view head = message.substr(0, e->begin);
  while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.remove_suffix(1);
  return std::string(head);
}

}  // namespace derived
