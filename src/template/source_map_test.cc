// Tests of the source map: for a byte of rendered output, the template line and column
// that produced it. Expectations are computed from the template text itself: every
// template below marks pieces of text with unique markers (@a, @b, ...), and the test
// finds each marker's line and column in the template by scanning it, independently of
// the lexer, then asks the map about the marker's offset in the output.
#include "template/source_map.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "template/template.h"

namespace derived::tmpl {
namespace {

struct Place {
  int line = 0;
  int column = 0;
};

// The 1-based line and byte column of the first occurrence of `marker` in `text`.
Place Find(std::string_view text, std::string_view marker) {
  size_t at = text.find(marker);
  EXPECT_NE(at, std::string_view::npos) << marker << " not in:\n" << text;
  Place p{1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

struct Rendered {
  std::string out;
  SourceMap map;
};

Rendered RenderMapped(const std::string& text, const Context& globals = {},
                      const Environment& env = Environment(), int first_line = 1) {
  Rendered r;
  auto t = Parse({"t.sql", first_line, text});
  EXPECT_TRUE(t.ok()) << t.error().ToString();
  if (!t.ok()) return r;
  auto out = env.Render(**t, globals, &r.map);
  EXPECT_TRUE(out.ok()) << out.error().ToString();
  if (out.ok()) r.out = *out;
  return r;
}

// Asserts that `marker`, wherever it is in the output (its n-th occurrence), maps to
// where it is written in `source` (offset by first_line).
void ExpectMapped(const std::string& source, const Rendered& r, std::string_view marker, int first_line = 1,
                  int occurrence = 1) {
  size_t at = std::string::npos;
  for (int i = 0; i < occurrence; ++i) at = r.out.find(marker, at == std::string::npos ? 0 : at + 1);
  ASSERT_NE(at, std::string::npos) << marker << " not in output:\n" << r.out;
  Place want = Find(source, marker);
  Origin got = r.map.At(at);
  EXPECT_EQ(got.file, "t.sql") << marker;
  EXPECT_EQ(got.line, want.line + first_line - 1) << marker << " in output:\n" << r.out;
  EXPECT_EQ(got.column, want.column) << marker;
  EXPECT_TRUE(got.literal) << marker;
  EXPECT_EQ(got.site_line, got.line) << marker;
  EXPECT_EQ(got.macro, "") << marker;
}

TEST(SourceMap, WhitespaceControlledCommentShiftsNothing) {
  // The reported bug: a {#- ... #} spanning lines strips the newline before it, so the
  // output has fewer lines than the template.
  std::string src =
      "SELECT @a,\n"
      "  x\n"
      "{#- a comment\n"
      "    spanning three\n"
      "    lines -#}\n"
      "FROM @b\n"
      "WHERE @c = 1";
  Rendered r = RenderMapped(src);
  ASSERT_EQ(r.out.find("x\nFROM"), std::string::npos) << "the comment should strip whitespace:\n" << r.out;
  for (auto m : {"@a", "@b", "@c"}) ExpectMapped(src, r, m);
}

TEST(SourceMap, TagsWithWhitespaceControlAndFirstLine) {
  std::string src =
      "SELECT @a\n"
      "{%- if flag -%}\n"
      "   , @b\n"
      "{%- else %}\n"
      "   , never\n"
      "{%- endif %}\n"
      "  {{- ' ' -}}\n"
      "   @c {{- '' }} @d\n"
      "{% raw %}{{ @e }}{% endraw %}\n"
      "FROM @f";
  Rendered r = RenderMapped(src, {{"flag", true}}, Environment(), /*first_line=*/12);
  for (auto m : {"@a", "@b", "@c", "@d", "@e", "@f"}) ExpectMapped(src, r, m, 12);
}

TEST(SourceMap, LoopsAndSetsMapEveryIterationToTheBody) {
  std::string src =
      "{% set cols = ['a', 'b', 'c'] %}\n"
      "{% set n = 3 %}\n"
      "SELECT\n"
      "{%- for c in cols %}\n"
      "  @x{{ loop.index }}\n"
      "{%- endfor %}\n"
      "FROM @t";
  Rendered r = RenderMapped(src);
  for (int i = 1; i <= 3; ++i) ExpectMapped(src, r, "@x", 1, i);
  ExpectMapped(src, r, "@t");
}

TEST(SourceMap, ExpressionOutputMapsToItsOpeningBraces) {
  std::string src =
      "SELECT 1\n"
      "FROM {{ name }} AS t,\n"
      "  {%- set block %}multi\nline{% endset %} {{ block }}";
  Rendered r = RenderMapped(src, {{"name", "raw.orders"}});
  size_t at = r.out.find("orders");
  Origin o = r.map.At(at);
  Place want = Find(src, "{{ name }}");
  EXPECT_EQ(o.line, want.line);
  EXPECT_EQ(o.column, want.column);
  EXPECT_FALSE(o.literal);
  // A {% set %} block's text is printed by {{ block }}: it maps there, to one place.
  o = r.map.At(r.out.find("line"));
  want = Find(src, "{{ block }}");
  EXPECT_EQ(o.line, want.line);
  EXPECT_EQ(o.column, want.column);
}

TEST(SourceMap, MacrosMapToTheirBodyAndToTheCallSite) {
  Environment env;
  std::string macros =
      "{% macro inner() -%}\n"
      "  @inner\n"
      "{%- endmacro %}\n"
      "{% macro outer(x) -%}\n"
      "  @outer {{ inner() }} {{ x }}\n"
      "{%- endmacro %}";
  ASSERT_TRUE(env.AddMacroFile({"macros/m.sql", 1, macros}).ok());
  std::string src =
      "{% macro local() %}@local{% endmacro %}\n"
      "SELECT @a,\n"
      "  {{ outer('v') }},\n"
      "  {{ local() }}\n"
      "FROM {{ outer('w') | upper }}";
  Rendered r = RenderMapped(src, {}, env);
  Place call = Find(src, "{{ outer('v') }}");

  Origin o = r.map.At(r.out.find("@outer"));
  EXPECT_EQ(o.file, "macros/m.sql");
  EXPECT_EQ(o.line, Find(macros, "@outer").line);
  EXPECT_EQ(o.column, Find(macros, "@outer").column);
  EXPECT_EQ(o.site_line, call.line);
  EXPECT_EQ(o.macro, "outer");

  // A macro called from a macro: the innermost text, placed at the outermost call.
  o = r.map.At(r.out.find("@inner"));
  EXPECT_EQ(o.file, "macros/m.sql");
  EXPECT_EQ(o.line, Find(macros, "@inner").line);
  EXPECT_EQ(o.site_line, call.line);
  EXPECT_EQ(o.macro, "outer");

  // An argument printed inside the macro maps to the {{ x }} in the macro.
  o = r.map.At(r.out.find("v,"));
  EXPECT_EQ(o.file, "macros/m.sql");
  EXPECT_EQ(o.line, Find(macros, "{{ x }}").line);
  EXPECT_EQ(o.column, Find(macros, "{{ x }}").column);

  // A macro defined in the template itself.
  o = r.map.At(r.out.find("@local"));
  EXPECT_EQ(o.file, "t.sql");
  EXPECT_EQ(o.line, Find(src, "@local").line);
  EXPECT_EQ(o.site_line, Find(src, "{{ local() }}").line);
  EXPECT_EQ(o.macro, "local");

  // A macro's output used as a value (filtered) is the {{ }}'s output.
  o = r.map.At(r.out.find("@OUTER"));
  EXPECT_EQ(o.file, "t.sql");
  EXPECT_EQ(o.line, Find(src, "{{ outer('w')").line);
  EXPECT_EQ(o.macro, "");

  ExpectMapped(src, r, "@a");
}

TEST(SourceMap, WindowsNewlinesAndTheEndOfTheOutput) {
  std::string src = "SELECT @a\r\nFROM @b\r\n";
  Rendered r = RenderMapped(src);
  std::string normalized = "SELECT @a\nFROM @b";
  ExpectMapped(normalized, r, "@a");
  ExpectMapped(normalized, r, "@b");
  // "syntax error at end of input" points one past the last byte: the last byte's place.
  Origin end = r.map.At(r.out.size());
  EXPECT_EQ(end.line, 2);
  EXPECT_EQ(end.column, static_cast<int>(std::string("FROM @b").size()));
}

TEST(SourceMap, PlainTextAndEmptyOutput) {
  std::string src = "SELECT 1\nFROM @x";
  ExpectMapped(src, RenderMapped(src), "@x");
  Rendered empty = RenderMapped("{# nothing #}");
  EXPECT_TRUE(empty.map.empty());
  EXPECT_EQ(empty.map.At(0).line, 0);
}

}  // namespace
}  // namespace derived::tmpl
