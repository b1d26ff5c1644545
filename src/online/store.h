// An online store: encoded keys to encoded values (online/encoding.h), written in
// batches that land whole or not at all, read many keys at once. Derived's exporter and
// server speak only to this interface; each store lives in a folder of its own
// (online/lmdb, the embedded default; online/redis). Every store passes the conformance
// suite in online/store_conformance_test.cc. To add one (Scylla, Cassandra): implement
// this class over the store's client, keeping each batch atomic (a logged batch, a
// transaction) and reads of one call consistent, and add its factory to the suite.
//
// Thread safety: one instance may be used from many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace derived::online {

class OnlineStore {
 public:
  struct Entry {
    std::string key, value;
    // Seconds the entry lives, for a store that expires entries itself (0: for ever).
    // Readers check the value's own expiry too (Value::expires_at), so a store that
    // cannot expire entries is still never read past it.
    int64_t ttl_seconds = 0;
  };
  virtual ~OnlineStore() = default;

  // Puts every entry, replacing what a key held, or none of them.
  virtual Status Put(const std::vector<Entry>& batch) = 0;
  // Deletes the keys (missing ones are no error), all or none.
  virtual Status Delete(const std::vector<std::string>& keys) = 0;
  // The value of each key, nullopt where there is none, in order; all read as of one
  // moment (a batch put meanwhile shows whole or not at all).
  virtual Result<std::vector<std::optional<std::string>>> Get(const std::vector<std::string>& keys) = 0;
  // Deletes every key beginning with `prefix` (an old generation of a table), in steps of
  // bounded size; returns how many. Keys not beginning with it are never touched.
  virtual Result<int64_t> DeletePrefix(std::string_view prefix) = 0;
};

}  // namespace derived::online
