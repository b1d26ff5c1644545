// Which process of a fleet serves a table: `derived run --shard K/N` serves the tables
// whose shard is K. Pure and stable across machines and releases (XXH3 of the qualified
// name), so manifests written by `derived deploy k8s --groups N` and the processes they
// start agree on the split without talking to each other.
#pragma once

#include <string_view>

#include "util/status.h"

namespace derived::fleet {

struct Shard {
  int index = 0;  // K: 0 <= K < N
  int count = 1;  // N
};

// Parses "K/N" (0 <= K < N <= kMaxShards); the error names the text and the rule.
Result<Shard> ParseShard(std::string_view text);
inline constexpr int kMaxShards = 10000;

// The shard in [0, count) that serves `qualified_table` (lowercase dataset.name).
int ShardOf(std::string_view qualified_table, int count);

inline bool Serves(const Shard& s, std::string_view qualified_table) {
  return ShardOf(qualified_table, s.count) == s.index;
}

}  // namespace derived::fleet
