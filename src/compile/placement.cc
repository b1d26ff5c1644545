#include "compile/placement.h"

namespace derived {
namespace {

// The lines of `text` with "\r\n" or "\r" endings taken as one newline, as the template
// lexer takes them.
std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines(1);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.emplace_back();
    } else {
      lines.back().push_back(c);
    }
  }
  return lines;
}

}  // namespace

TextPlacement TextPlacement::WholeFile(std::string file, std::string_view text) {
  TextPlacement p;
  p.file_ = std::move(file);
  p.columns_known_ = true;
  for (std::string& line : Lines(text)) p.lines_.push_back({0, std::move(line)});
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
  std::vector<std::string> file_lines = Lines(yaml);
  std::vector<std::string> value_lines = Lines(value);
  if (first_line < 1) {
    p.lines_exact_ = false;
    return p;
  }
  for (size_t i = 0; i < value_lines.size(); ++i) {
    const std::string& v = value_lines[i];
    size_t at = static_cast<size_t>(first_line - 1) + i;
    if (at >= file_lines.size()) {
      // Only a trailing empty line may be past the file's end.
      if (!v.empty()) p.lines_exact_ = false;
      break;
    }
    Line line{-1, std::move(file_lines[at])};
    if (!v.empty()) {
      size_t pos = line.text.find(v);
      if (pos == std::string::npos) {
        // The scalar's lines are not the file's: folded, or quoted with escapes.
        p.lines_exact_ = false;
        p.lines_.clear();
        return p;
      }
      // Found twice on its line, the text could start at either: leave the column out.
      if (line.text.find(v, pos + 1) == std::string::npos) line.shift = static_cast<int>(pos);
    }
    p.lines_.push_back(std::move(line));
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
