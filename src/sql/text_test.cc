#include "sql/text.h"

#include <gtest/gtest.h>

namespace derived::sql {
namespace {

std::vector<std::string> Pieces(std::string_view sql) {
  std::vector<std::string> out;
  for (auto p : SplitAtSemicolons(sql)) out.emplace_back(p);
  return out;
}

TEST(SqlText, SemicolonsInsideQuotesCommentsAndDollarQuotesDoNotSplit) {
  EXPECT_EQ(Pieces("SELECT 1; SELECT 2"), (std::vector<std::string>{"SELECT 1", " SELECT 2"}));
  EXPECT_EQ(Pieces("SELECT ';' AS a; SELECT \"x;y\""), (std::vector<std::string>{"SELECT ';' AS a", " SELECT \"x;y\""}));
  EXPECT_EQ(Pieces("SELECT 'it''s;' -- a;b\n; SELECT 2"),
            (std::vector<std::string>{"SELECT 'it''s;' -- a;b\n", " SELECT 2"}));
  EXPECT_EQ(Pieces("SELECT /* a; /* nested; */ still; */ 1; x"),
            (std::vector<std::string>{"SELECT /* a; /* nested; */ still; */ 1", " x"}));
  EXPECT_EQ(Pieces("SELECT $$;$$, $tag$ ; $$ ; $tag$; y"),
            (std::vector<std::string>{"SELECT $$;$$, $tag$ ; $$ ; $tag$", " y"}));
  EXPECT_EQ(Pieces("SELECT E'\\';' ; z"), (std::vector<std::string>{"SELECT E'\\';' ", " z"}));
  // $1 is a parameter, not a dollar quote.
  EXPECT_EQ(Pieces("SELECT $1; SELECT $2"), (std::vector<std::string>{"SELECT $1", " SELECT $2"}));
  // Unterminated quotes run to the end: DuckDB rejects them anyway.
  EXPECT_EQ(Pieces("SELECT 'a; b"), (std::vector<std::string>{"SELECT 'a; b"}));
  EXPECT_EQ(Pieces("SELECT 1;"), (std::vector<std::string>{"SELECT 1", ""}));
}

TEST(SqlText, BlankPiecesHoldOnlyWhitespaceAndComments) {
  EXPECT_TRUE(IsBlank(""));
  EXPECT_TRUE(IsBlank("  -- done\n /* and */ "));
  EXPECT_FALSE(IsBlank(" -- c\n x"));
}

TEST(SqlText, FirstWordSkipsCommentsAndParentheses) {
  EXPECT_EQ(FirstWord("SELECT 1"), "select");
  EXPECT_EQ(FirstWord("  /* why */ -- note\n  With x AS (SELECT 1) INSERT"), "with");
  EXPECT_EQ(FirstWord("((SELECT 1) UNION (SELECT 2))"), "select");
  EXPECT_EQ(FirstWord("'text'"), "");
  EXPECT_EQ(FirstWord(""), "");
}

TEST(SqlText, ExplainedStatementIsWhatFollowsTheOptions) {
  EXPECT_EQ(ExplainedStatement("EXPLAIN SELECT 1"), "SELECT 1");
  EXPECT_EQ(ExplainedStatement("explain analyze DELETE FROM t"), "DELETE FROM t");
  EXPECT_EQ(ExplainedStatement("EXPLAIN ANALYSE /* c */ SELECT 1"), "SELECT 1");
  EXPECT_EQ(ExplainedStatement("EXPLAIN (FORMAT json, ANALYZE) COPY t TO 'f'"), "COPY t TO 'f'");
  EXPECT_EQ(ExplainedStatement("EXPLAIN ANALYZE VERBOSE SELECT 1"), "SELECT 1");
  EXPECT_EQ(ExplainedStatement("SELECT 1"), "");
}

TEST(SqlText, ShortStatementIsOneLine) {
  EXPECT_EQ(ShortStatement("SELECT  a,\n  b -- why\nFROM t"), "SELECT a, b FROM t");
  EXPECT_EQ(ShortStatement("SELECT 'a\nb'"), "SELECT 'a b'");
  EXPECT_EQ(ShortStatement(std::string(100, 'x'), 20), std::string(17, 'x') + "...");
  // Never cut inside a UTF-8 character.
  std::string cut = ShortStatement("SELECT '\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9'", 13);
  EXPECT_EQ(cut, "SELECT '\xc3\xa9...");
}

}  // namespace
}  // namespace derived::sql
