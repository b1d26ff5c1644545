#include "compile/placement.h"

#include <fstream>
#include <sstream>

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

struct TextPlacement::Deferred {
  std::once_flag once;
  std::string value, path;
  Data data;
};

TextPlacement::Line TextPlacement::MakeLine(int shift, std::string_view text) {
  // Most lines are ASCII, where a byte is a character: only the others are kept.
  return Line{shift, IsAscii(text) ? std::string() : std::string(text)};
}

TextPlacement TextPlacement::WholeFile(std::string file, std::string_view text) {
  TextPlacement p;
  p.file_ = std::move(file);
  p.data_.columns_known = true;
  LineCursor lines(text);
  for (std::string_view line; lines.Next(&line);) p.data_.lines.push_back(MakeLine(0, line));
  return p;
}

TextPlacement TextPlacement::LinesOnly(std::string file, int first_line) {
  TextPlacement p;
  p.file_ = std::move(file);
  p.first_line_ = first_line;
  return p;
}

TextPlacement TextPlacement::InYaml(std::string file, int first_line, std::string_view value,
                                    std::string_view yaml) {
  TextPlacement p = LinesOnly(std::move(file), first_line);
  p.data_ = Check(first_line, value, yaml);
  return p;
}

TextPlacement TextPlacement::InYamlFile(std::string file, int first_line, std::string value,
                                        std::string path) {
  TextPlacement p = LinesOnly(std::move(file), first_line);
  p.deferred_ = std::make_shared<Deferred>();
  p.deferred_->value = std::move(value);
  p.deferred_->path = std::move(path);
  return p;
}

const TextPlacement::Data& TextPlacement::data() const {
  if (!deferred_) return data_;
  Deferred& d = *deferred_;
  std::call_once(d.once, [&] {
    std::ifstream in(d.path, std::ios::binary);
    std::stringstream yaml;
    if (in) yaml << in.rdbuf();
    // An unreadable file (gone since it was loaded) leaves lines as given, without columns.
    d.data = in ? Check(first_line_, d.value, yaml.str()) : Data{};
    d.value = std::string();
  });
  return d.data;
}

TextPlacement::Data TextPlacement::Check(int first_line, std::string_view value, std::string_view yaml) {
  Data data;
  data.columns_known = true;
  if (first_line < 1) {
    data.lines_exact = false;
    return data;
  }
  LineCursor file_lines(yaml);
  std::string_view line;
  for (int i = 1; i < first_line; ++i) {
    if (!file_lines.Next(&line)) break;
  }
  LineCursor value_lines(value);
  for (std::string_view v; value_lines.Next(&v);) {
    if (!file_lines.Next(&line)) {
      // Only a trailing empty line may be past the file's end.
      if (!v.empty()) data.lines_exact = false;
      break;
    }
    int shift = -1;
    if (!v.empty()) {
      size_t pos = line.find(v);
      if (pos == std::string_view::npos) {
        // The scalar's lines are not the file's: folded, or quoted with escapes.
        data.lines_exact = false;
        data.lines.clear();
        return data;
      }
      // Found twice on its line, the text could start at either: leave the column out.
      if (line.find(v, pos + 1) == std::string_view::npos) shift = static_cast<int>(pos);
    }
    data.lines.push_back(MakeLine(shift, line));
  }
  return data;
}

Location TextPlacement::Place(int line, int byte_column) const {
  const Data& d = data();
  if (!d.lines_exact) return {file_, first_line_, 0};
  Location where{file_, line, 0};
  int i = line - first_line_;
  if (!d.columns_known || byte_column <= 0 || i < 0 || static_cast<size_t>(i) >= d.lines.size()) return where;
  const Line& l = d.lines[static_cast<size_t>(i)];
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
