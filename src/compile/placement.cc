#include "compile/placement.h"

namespace derived {
namespace {

// Walks the lines of a text, taking "\r\n" or "\r" as one newline, as the template lexer does.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}
  bool Next(std::string_view* line) {
    if (pos_ > text_.size()) return false;
    size_t end = text_.find_first_of("\r\n", pos_);
    if (end == std::string_view::npos) end = text_.size();
    *line = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    if (end + 1 < text_.size() && text_[end] == '\r' && text_[end + 1] == '\n') ++pos_;
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

TextPlacement::Line TextPlacement::MakeLine(int shift, std::string_view text) {
  // Most lines are ASCII, where a byte is a character: only the others are kept.
  return Line{shift, IsAscii(text) ? std::string() : std::string(text)};
}

TextPlacement TextPlacement::WholeFile(std::string file, std::string_view text) {
  TextPlacement p;
  p.file_ = std::move(file);
  p.columns_known_ = true;
  LineCursor lines(text);
  for (std::string_view line; lines.Next(&line);) p.lines_.push_back(MakeLine(0, line));
  return p;
}

TextPlacement TextPlacement::LinesOnly(std::string file, int first_line) {
  TextPlacement p;
  p.file_ = std::move(file);
  p.first_line_ = first_line;
  return p;
}

TextPlacement TextPlacement::InYaml(std::string file, int first_line, std::string_view value, std::string_view yaml) {
  TextPlacement p = LinesOnly(std::move(file), first_line);
  p.columns_known_ = true;
  LineCursor file_lines(yaml);
  std::string_view line;
  for (int i = 1; i < first_line; ++i) {
    if (!file_lines.Next(&line)) break;
  }
  if (first_line < 1) {
    p.lines_exact_ = false;
    return p;
  }
  LineCursor value_lines(value);
  for (std::string_view v; value_lines.Next(&v);) {
    if (!file_lines.Next(&line)) {
      // Only a trailing empty line may be past the file's end.
      if (!v.empty()) p.lines_exact_ = false;
      break;
    }
    int shift = -1;
    if (!v.empty()) {
      size_t pos = line.find(v);
      if (pos == std::string_view::npos) {
        // The scalar's lines are not the file's: folded, or quoted with escapes.
        p.lines_exact_ = false;
        p.lines_.clear();
        return p;
      }
      // Found twice on its line, the text could start at either: leave the column out.
      if (line.find(v, pos + 1) == std::string_view::npos) shift = static_cast<int>(pos);
    }
    p.lines_.push_back(MakeLine(shift, line));
  }
  return p;
}

Location TextPlacement::Place(int line, int byte_column) const {
  if (!lines_exact_) return {file_, first_line_, 0};
  Location where{file_, line, 0};
  int i = line - first_line_;
  if (!columns_known_ || byte_column <= 0 || i < 0 || static_cast<size_t>(i) >= lines_.size()) return where;
  const Line& l = lines_[static_cast<size_t>(i)];
  if (l.shift < 0) return where;
  size_t byte = static_cast<size_t>(l.shift) + static_cast<size_t>(byte_column) - 1;
  if (l.text.empty()) {
    where.column = static_cast<int>(byte) + 1;
    return where;
  }
  if (byte > l.text.size()) return where;
  int column = 1;
  for (size_t b = 0; b < byte; ++b) {
    if ((static_cast<unsigned char>(l.text[b]) & 0xC0) != 0x80) ++column;  // not a UTF-8 continuation byte
  }
  where.column = column;
  return where;
}

Location PlacementSet::Place(const std::string& file, int line, int byte_column) const {
  if (own && own->file() == file) return own->Place(line, byte_column);
  if (macros) {
    if (auto it = macros->find(file); it != macros->end()) return it->second.Place(line, byte_column);
  }
  return {file, line, 0};
}

}  // namespace derived
