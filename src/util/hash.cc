#include "util/hash.h"

#include <xxhash.h>

#include <cstdint>
#include <cstdio>

namespace derived {

Hasher::Hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_)); }

Hasher::~Hasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

Hasher& Hasher::Add(std::string_view data) {
  uint64_t n = data.size();
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), &n, sizeof(n));
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
  return *this;
}

std::string Hasher::Hex() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

std::string ContentHash(std::string_view data) {
  Hasher h;
  h.Add(data);
  return h.Hex();
}

}  // namespace derived
