// The Redis online store, through hiredis: a batch is one MULTI/EXEC (so readers see it
// whole), a read is one MGET, expiry is Redis's own (SET ... EX), and a prefix is deleted
// by SCAN MATCH with the prefix's glob characters escaped, in bounded steps.
// One connection, used by one thread at a time behind a mutex; requests are bounded in
// time (a server that stops answering fails the call, and the next call reconnects).
#pragma once

#include <memory>
#include <string>

#include "online/store.h"

namespace derived::online {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int database = 0;
  std::string password;  // AUTH when not empty
  double timeout_seconds = 5;
};

Result<std::unique_ptr<OnlineStore>> OpenRedisStore(const RedisOptions& options);

}  // namespace derived::online
