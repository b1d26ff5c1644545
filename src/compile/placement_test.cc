// Tests of TextPlacement: where a position in a template's text is in its file. Each
// expectation is found by scanning the file text for a marker, not by the code under test.
#include "compile/placement.h"

#include <gtest/gtest.h>

#include <string>

#include "testing.h"

namespace derived {
namespace {

// 1-based line and column (in characters) of the first `marker` in `text`.
Location Find(const std::string& file, const std::string& text, const std::string& marker) {
  size_t at = text.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  Location l{file, 1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++l.line;
      l.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++l.column;
    }
  }
  return l;
}

// The line (as the template lexer counts: first_line applied) and byte column of
// `marker` within the scalar's `value`.
std::pair<int, int> InValue(const std::string& value, int first_line, const std::string& marker) {
  size_t at = value.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  int line = first_line, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (value[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

void ExpectPlaced(const TextPlacement& p, const std::string& value, const std::string& yaml,
                  const std::string& m) {
  auto [line, column] = InValue(value, p.first_line(), m);
  Location got = p.Place(line, column);
  Location want = Find("t.yaml", yaml, m);
  EXPECT_EQ(got.ToString(), want.ToString()) << m;
}

TEST(TextPlacement, BlockScalarLinesAndColumnsAreTheFiles) {
  std::string yaml = "schedule: daily\nsql: |\n  SELECT @a,\n      @b\n\n  FROM @c  -- é @d\n";
  std::string value = "SELECT @a,\n    @b\n\nFROM @c  -- é @d\n";
  TextPlacement p = TextPlacement::InYaml("t.yaml", 3, value, yaml);
  EXPECT_TRUE(p.lines_exact());
  for (auto m : {"@a", "@b", "@c", "@d"}) ExpectPlaced(p, value, yaml, m);
}

TEST(TextPlacement, PlainScalarOnTheKeysLine) {
  std::string yaml = "sql: SELECT @a FROM t  # a comment\n";
  std::string value = "SELECT @a FROM t";
  TextPlacement p = TextPlacement::InYaml("t.yaml", 1, value, yaml);
  ExpectPlaced(p, value, yaml, "@a");
}

TEST(TextPlacement, FoldedOrEscapedScalarsGiveOnlyTheFirstLine) {
  // `>` joins the lines: line 2 of the file is not line 2 of the value.
  std::string yaml = "sql: >\n  SELECT a\n  FROM @t\n";
  TextPlacement folded = TextPlacement::InYaml("t.yaml", 2, "SELECT a FROM @t\n", yaml);
  EXPECT_FALSE(folded.lines_exact());
  EXPECT_EQ(folded.Place(2, 15).ToString(), "t.yaml:2");
  // An escape makes the value differ from the file's text.
  std::string quoted = "sql: \"SELECT 1\\nFROM @t\"\n";
  TextPlacement q = TextPlacement::InYaml("t.yaml", 1, "SELECT 1\nFROM @t", quoted);
  EXPECT_FALSE(q.lines_exact());
  EXPECT_EQ(q.Place(2, 6).ToString(), "t.yaml:1");
}

TEST(TextPlacement, AmbiguousLinesLoseTheColumnNotTheLine) {
  // The value's line "x" occurs twice in the file's line: its start is not known.
  std::string yaml = "sql: x  # x\n";
  TextPlacement p = TextPlacement::InYaml("t.yaml", 1, "x", yaml);
  EXPECT_EQ(p.Place(1, 1).ToString(), "t.yaml:1");
}

TEST(TextPlacement, WholeFilesCountCharacters) {
  std::string text = "-- ünïcode\nSELECT 'é', @x\n";
  TextPlacement p = TextPlacement::WholeFile("t.sql", text);
  size_t at = text.find("@x") - text.find("SELECT");  // bytes into line 2
  EXPECT_EQ(p.Place(2, static_cast<int>(at) + 1).ToString(), Find("t.sql", text, "@x").ToString());
  EXPECT_EQ(TextPlacement::LinesOnly("t.yaml", 4).Place(6, 3).ToString(), "t.yaml:6");
}

// The check of SQL embedded in a table file is deferred until a position is placed:
// validating a project places few, so most files are never read again.
TEST(TextPlacement, ChecksAgainstTheFileOnlyWhenFirstUsed) {
  testing::TempDir dir;
  std::string yaml = "schedule: daily\nsql: |\n  SELECT @a\n";
  std::string value = "SELECT @a\n";
  std::string path = (dir.path() / "t.yaml").string();
  // Made before the file exists: it has not been read yet.
  TextPlacement p = TextPlacement::InYamlFile("t.yaml", 3, value, path);
  dir.Write("t.yaml", yaml);
  ExpectPlaced(p, value, yaml, "@a");
  TextPlacement copy = p;  // copies share the check
  ExpectPlaced(copy, value, yaml, "@a");
  // A file that cannot be read leaves lines as given, without columns.
  TextPlacement gone = TextPlacement::InYamlFile("t.yaml", 3, value, (dir.path() / "gone.yaml").string());
  EXPECT_EQ(gone.Place(3, 8).ToString(), "t.yaml:3");
}

}  // namespace
}  // namespace derived
