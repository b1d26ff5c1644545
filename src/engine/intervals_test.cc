#include "engine/intervals.h"

#include <gtest/gtest.h>

namespace derived {
namespace {

Window W(int a, int b) { return {Timestamp{a}, Timestamp{b}}; }

TEST(IntervalSet, MergesTouchingAndOverlappingRanges) {
  IntervalSet s;
  s.Add(W(10, 20));
  s.Add(W(30, 40));
  s.Add(W(20, 25));  // touches the first
  EXPECT_EQ(s.ranges(), (std::vector<Window>{W(10, 25), W(30, 40)}));
  s.Add(W(24, 31));  // bridges both
  EXPECT_EQ(s.ranges(), (std::vector<Window>{W(10, 40)}));
  s.Add(W(0, 5));
  s.Add(W(50, 50));  // empty: ignored
  EXPECT_EQ(s.ranges(), (std::vector<Window>{W(0, 5), W(10, 40)}));
}

TEST(IntervalSet, CoversIntersectsAndContiguousEnd) {
  IntervalSet s;
  s.Add(W(0, 40));
  s.Add(W(60, 100));
  EXPECT_EQ(s.ranges(), (std::vector<Window>{W(0, 40), W(60, 100)}));
  EXPECT_TRUE(s.Covers(W(10, 40)));
  EXPECT_FALSE(s.Covers(W(30, 70)));
  EXPECT_TRUE(s.Intersects(W(30, 70)));
  EXPECT_FALSE(s.Intersects(W(40, 60)));
  EXPECT_FALSE(s.Intersects(W(100, 200)));
  EXPECT_EQ(s.ContiguousEnd(Timestamp{0}).seconds, 40);
  EXPECT_EQ(s.ContiguousEnd(Timestamp{40}).seconds, 40);  // a gap starts here
  EXPECT_EQ(s.ContiguousEnd(Timestamp{60}).seconds, 100);
}

TEST(IntervalSet, JsonRoundTripAndErrors) {
  IntervalSet s;
  s.Add(W(0, 3600));
  s.Add(W(7200, 10800));
  EXPECT_EQ(s.ToJson(),
            R"([["1970-01-01T00:00:00Z","1970-01-01T01:00:00Z"],["1970-01-01T02:00:00Z","1970-01-01T03:00:00Z"]])");
  auto back = IntervalSet::FromJson(s.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(IntervalSet::FromJson("{}").ok());
  EXPECT_FALSE(IntervalSet::FromJson(R"([["x","y"]])").ok());
}

}  // namespace
}  // namespace derived
