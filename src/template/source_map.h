// Where each byte of a rendered template came from, so an error the SQL engine reports
// at a position in the rendered SQL can name the template line that produced it, whatever
// comments, whitespace control, loops, sets and macros stood in between.
//
//   tmpl::SourceMap map;
//   auto sql = env.Render(*t, globals, &map);
//   tmpl::Origin o = map.At(offset_of_error);  // o.file, o.line, o.column
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace derived::tmpl {

// The template text behind one byte of output. Its strings view the SourceMap: valid
// while the map lives and is not changed.
struct Origin {
  std::string_view file;  // the template's file, or a macro's file for text from inside a macro
  int line = 0;           // line in `file` (TemplateSource::first_line applied); 0 = unknown
  // 1-based byte column within the template text's line, 0 = unknown. It is a column of
  // the *text*: for SQL embedded in YAML the caller adds the indentation the YAML took.
  int column = 0;
  // The line, in the rendered template's own file, of the top-level statement that wrote
  // the byte: `line` itself outside macros, the line of the macro call inside one.
  int site_line = 0;
  std::string_view macro;  // inside a macro called from the template: that macro's name
  bool literal = false;    // template text copied verbatim (else the output of a {{ }})
};

// Built by Environment::Render for one output string. Literal text maps byte for byte;
// the output of a {{ expression }} maps as a whole to its opening "{{". Cheap to build:
// one entry per line of literal text and one per expression output.
class SourceMap {
 public:
  // The origin of output byte `offset`; an offset at or past the end maps to the last
  // byte. An empty map (nothing was rendered) gives an unknown Origin.
  Origin At(size_t offset) const;
  bool empty() const { return segments_.empty(); }
  void Clear();

  // Who wrote the next bytes: renderer state, passed to the Add* calls below.
  struct Site {
    int line = 0;                        // 0 = outside any macro call
    const std::string* macro = nullptr;  // the outermost macro called from the template
  };
  // Records `text`, copied verbatim from line/column of `file`, at output offset `out`.
  // REQUIRES (both Add calls): `file` and `*site.macro` outlive the building of the map
  // and do not change (the map remembers the last of each by address).
  void AddText(size_t out, std::string_view text, const std::string& file, int line, int column,
               const Site& site);
  // Records `length` bytes an expression on line/column of `file` printed at `out`.
  void AddValue(size_t out, size_t length, const std::string& file, int line, int column, const Site& site);

 private:
  struct Segment {
    size_t out;        // first output byte
    size_t length;     // > 0
    uint32_t file;     // index in files_
    int32_t macro;     // index in macros_, -1 = none
    int line, column;  // of the first byte
    int site_line;
    bool literal;  // later bytes of a literal segment advance the column
  };
  uint32_t FileIndex(const std::string& file);
  int32_t MacroIndex(const std::string* macro);

  std::vector<Segment> segments_;  // by `out`, increasing; a literal segment never spans lines
  std::vector<std::string> files_;
  std::vector<std::string> macros_;
  // The last file and macro seen: renders pass the same strings over and over.
  const std::string* last_file_ = nullptr;
  uint32_t last_file_index_ = 0;
  const std::string* last_macro_ = nullptr;
  int32_t last_macro_index_ = -1;
};

}  // namespace derived::tmpl
