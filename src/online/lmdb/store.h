// The embedded online store: an LMDB environment in a folder of the project's state
// directory. A batch is one write transaction; a Get is one read transaction (LMDB's
// readers see a snapshot and never wait for the writer). LMDB has no expiry: entries are
// read past their TTL only to be refused by the reader (OnlineStore::Entry).
#pragma once

#include <memory>
#include <string>

#include "online/store.h"

namespace derived::online {

struct LmdbOptions {
  // The most the store's file may grow to (LMDB maps it; the file grows as written).
  size_t map_bytes = size_t{64} << 30;
};

// Opens (creating) the store in `dir`, a folder made 0700 when missing.
Result<std::unique_ptr<OnlineStore>> OpenLmdbStore(const std::string& dir, const LmdbOptions& options = {});

}  // namespace derived::online
