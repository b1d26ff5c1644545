// Content hashes (XXH3, 128 bits) for caches and definition fingerprints.
#pragma once

#include <string>
#include <string_view>

namespace derived {

// Incremental hasher. Each Add() is length-prefixed so ("ab","c") != ("a","bc").
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Hasher& Add(std::string_view data);
  // 32 lowercase hex digits.
  std::string Hex() const;

 private:
  void* state_;  // XXH3_state_t, kept opaque so xxhash.h stays out of headers
};

std::string ContentHash(std::string_view data);

}  // namespace derived
