#include "fleet/shard.h"

#include <charconv>
#include <string>

#include <fmt/format.h>

#include "util/hash.h"

namespace derived::fleet {
namespace {

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<Shard> ParseShard(std::string_view text) {
  Shard s;
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || !ParseInt(text.substr(0, slash), &s.index) ||
      !ParseInt(text.substr(slash + 1), &s.count) || s.count < 1 || s.count > kMaxShards || s.index < 0 ||
      s.index >= s.count) {
    return Error(fmt::format("--shard '{}': expected K/N with 0 <= K < N <= {}, e.g. 0/4", std::string(text),
                             kMaxShards));
  }
  return s;
}

int ShardOf(std::string_view qualified_table, int count) {
  if (count <= 1) return 0;
  // The first 64 bits of the name's XXH3-128 (ContentHash: 32 hex digits).
  std::string hex = ContentHash(qualified_table).substr(0, 16);
  uint64_t h = std::stoull(hex, nullptr, 16);
  return static_cast<int>(h % static_cast<uint64_t>(count));
}

}  // namespace derived::fleet
