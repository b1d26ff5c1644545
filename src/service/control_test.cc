#include "service/control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace derived {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseCommandRequest, TakesTheArguments) {
  auto args = ParseCommandRequest(R"({"args": ["log", "core.signups", "--limit", "5"]})");
  ASSERT_TRUE(args.ok()) << args.error().message;
  EXPECT_THAT(*args, ElementsAre("log", "core.signups", "--limit", "5"));
}

TEST(ParseCommandRequest, RefusesAnythingButAnObjectWithAListOfStrings) {
  for (const char* body : {"", "[]", "{}", "not json", R"({"args": "status"})", R"({"arg": ["status"]})"}) {
    auto args = ParseCommandRequest(body);
    ASSERT_FALSE(args.ok()) << body;
    EXPECT_THAT(args.error().message, HasSubstr("{\"args\": [\"command\", ...]}")) << body;
  }
  auto args = ParseCommandRequest(R"({"args": ["status", 1]})");
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.error().message, HasSubstr("every element of 'args' must be a string"));
}

TEST(ParseCommandRequest, RefusesTextThatIsNotUtf8) {
  EXPECT_FALSE(ParseCommandRequest("{\"args\": [\"\xff\"]}").ok());
}

}  // namespace
}  // namespace derived
