#include "fleet/shard.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace derived::fleet {
namespace {

TEST(Shard, ParsesKOverNAndRefusesAnythingElse) {
  auto s = ParseShard("2/5");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 5);
  for (const char* bad : {"", "5/5", "-1/3", "1", "1/0", "a/3", "1/3x", "1/10001", " 1/3"}) {
    auto r = ParseShard(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("expected K/N"), std::string::npos) << r.error().message;
  }
}

TEST(Shard, EveryTableHasExactlyOneShardAndTheSplitIsStableAndEven) {
  std::map<int, int> per_shard;
  for (int i = 0; i < 4000; ++i) {
    std::string name = "core.t" + std::to_string(i);
    int k = ShardOf(name, 8);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 8);
    EXPECT_EQ(k, ShardOf(name, 8));
    int owners = 0;
    for (int j = 0; j < 8; ++j) owners += Serves({j, 8}, name) ? 1 : 0;
    EXPECT_EQ(owners, 1);
    per_shard[k]++;
  }
  for (const auto& [k, n] : per_shard) EXPECT_NEAR(n, 500, 100) << "shard " << k;
  EXPECT_EQ(ShardOf("core.anything", 1), 0);
}

}  // namespace
}  // namespace derived::fleet
