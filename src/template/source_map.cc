#include "template/source_map.h"

#include <algorithm>

namespace derived::tmpl {

Origin SourceMap::At(size_t offset) const {
  Origin o;
  if (segments_.empty()) return o;
  // The last segment starting at or before `offset`.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](size_t off, const Segment& s) { return off < s.out; });
  const Segment& s = it == segments_.begin() ? segments_.front() : *std::prev(it);
  o.file = files_[s.file];
  o.line = s.line;
  o.column = s.column;
  o.literal = s.literal;
  if (s.literal && s.column > 0) {
    // Past the segment (the end of the output) keeps its last byte's column.
    size_t within = std::min(offset - std::min(offset, s.out), s.length - 1);
    o.column = s.column + static_cast<int>(within);
  }
  o.site_line = s.site_line > 0 ? s.site_line : s.line;
  if (s.macro >= 0) o.macro = macros_[static_cast<size_t>(s.macro)];
  return o;
}

void SourceMap::Clear() {
  segments_.clear();
  files_.clear();
  macros_.clear();
  last_file_ = last_macro_ = nullptr;
}

uint32_t SourceMap::FileIndex(const std::string& file) {
  if (&file == last_file_) return last_file_index_;
  // Few files per render (the template and a macro file or two): search from the back.
  size_t i = files_.size();
  while (i-- > 0 && files_[i] != file) {
  }
  if (i == static_cast<size_t>(-1)) {
    files_.push_back(file);
    i = files_.size() - 1;
  }
  last_file_ = &file;
  last_file_index_ = static_cast<uint32_t>(i);
  return last_file_index_;
}

int32_t SourceMap::MacroIndex(const std::string* macro) {
  if (macro == nullptr) return -1;
  if (macro == last_macro_) return last_macro_index_;
  size_t i = macros_.size();
  while (i-- > 0 && macros_[i] != *macro) {
  }
  if (i == static_cast<size_t>(-1)) {
    macros_.push_back(*macro);
    i = macros_.size() - 1;
  }
  last_macro_ = macro;
  last_macro_index_ = static_cast<int32_t>(i);
  return last_macro_index_;
}

void SourceMap::AddText(size_t out, std::string_view text, const std::string& file, int line, int column,
                        const Site& site) {
  if (text.empty()) return;
  uint32_t f = FileIndex(file);
  int32_t m = MacroIndex(site.macro);
  if (segments_.empty()) segments_.reserve(64);
  // One segment per line, so a lookup never has to scan the text for newlines.
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    segments_.push_back({out + start, end - start, f, m, line, column, site.line, true});
    if (nl == std::string_view::npos) break;
    start = nl + 1;
    ++line;
    column = column > 0 ? 1 : 0;
  }
}

void SourceMap::AddValue(size_t out, size_t length, const std::string& file, int line, int column,
                         const Site& site) {
  if (length == 0) return;
  if (segments_.empty()) segments_.reserve(64);
  segments_.push_back({out, length, FileIndex(file), MacroIndex(site.macro), line, column, site.line, false});
}

}  // namespace derived::tmpl
