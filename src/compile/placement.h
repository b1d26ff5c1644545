// Where a template's text sits in its file. A sql_file or a macro file is the text
// itself; SQL embedded in YAML is indented by the YAML, and a folded (>) or quoted scalar
// does not even keep its lines. So the placement of embedded SQL is checked line by line
// against the YAML file, and a position that cannot be placed exactly is given with less
// detail (no column, or the scalar's first line), never a wrong one.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "template/source_map.h"
#include "util/status.h"

namespace derived {

// Copyable and thread-safe; copies share a deferred check.
class TextPlacement {
 public:
  TextPlacement() = default;
  // `text` is the whole content of `file`.
  static TextPlacement WholeFile(std::string file, std::string_view text);
  // `value` is the value of a YAML scalar that starts on line `first_line` of `yaml`, the
  // text of `file`.
  static TextPlacement InYaml(std::string file, int first_line, std::string_view value,
                              std::string_view yaml);
  // The same, reading the YAML from `path` (the file's path on disk) only when a position
  // is first placed: validating a project places few, so most files are not read again.
  static TextPlacement InYamlFile(std::string file, int first_line, std::string value, std::string path);
  // Nothing known but the file and where the text starts: lines as given, no columns.
  static TextPlacement LinesOnly(std::string file, int first_line);

  const std::string& file() const { return file_; }
  int first_line() const { return first_line_; }
  // False for a YAML scalar whose lines are not the file's (folded, quoted with escapes).
  bool lines_exact() const { return data().lines_exact; }

  // A line of the file (the template's first_line applied) and a 1-based byte column in
  // the text's line, as tmpl::Origin gives them, to a location in the file with the column
  // counted in characters (UTF-8 code points). Column 0 when it cannot be known.
  Location Place(int line, int byte_column) const;

 private:
  struct Line {
    int shift = -1;    // bytes before the text's line in the file's line; -1 = unknown
    std::string text;  // the file's line when it is not ASCII (to count characters); else empty
  };
  struct Data {
    bool lines_exact = true;
    bool columns_known = false;
    std::vector<Line> lines;  // from first_line on
  };
  struct Deferred;  // placement.cc
  static Line MakeLine(int shift, std::string_view text);
  static Data Check(int first_line, std::string_view value, std::string_view yaml);
  const Data& data() const;

  std::string file_;
  int first_line_ = 1;
  Data data_;                           // unless deferred
  std::shared_ptr<Deferred> deferred_;  // InYamlFile: checked on first use
};

// The placements a rendered template's bytes can come from: its own text, and the
// project's macro files. Immutable and shared, so a rendering can carry it around.
struct PlacementSet {
  std::shared_ptr<const TextPlacement> own;
  std::shared_ptr<const std::map<std::string, TextPlacement>> macros;  // by file

  // A template position (tmpl::Origin's file, line and byte column) in its file.
  Location Place(const std::string& file, int line, int byte_column) const;
};

}  // namespace derived
