#include "util/strings.h"

#include <gtest/gtest.h>

namespace derived {
namespace {

TEST(Strings, ClosestMatchSuggestsPlausibleTyposOnly) {
  std::vector<std::string> keys = {"schedule", "strategy", "start", "sql"};
  EXPECT_EQ(ClosestMatch("schedul", keys), "schedule");
  EXPECT_EQ(ClosestMatch("STRATEGI", keys), "strategy");
  EXPECT_EQ(ClosestMatch("sq", keys), "sql");
  EXPECT_EQ(ClosestMatch("owner", keys), "");
  EXPECT_EQ(ClosestMatch("x", {"d", "e"}), "");  // replacing every letter is not a typo
  EXPECT_EQ(DidYouMean("strt", keys), " (did you mean 'start'?)");
  EXPECT_EQ(DidYouMean("zzz", keys), "");
}

TEST(Strings, ReplaceAllAndStripStatement) {
  EXPECT_EQ(ReplaceAll("a_b_c", "_", " "), "a b c");
  EXPECT_EQ(ReplaceAll("aaa", "aa", "b"), "ba");
  EXPECT_EQ(ReplaceAll("abc", "", "x"), "abc");
  EXPECT_EQ(StripStatement("  SELECT 1 ;; \n"), "SELECT 1");
  EXPECT_EQ(LineOfOffset("a\nb\nc", 2), 2);
}

}  // namespace
}  // namespace derived
