// A real Redis server for tests: `redis-server` (from the bootstrap) started by this
// process on a free loopback port in a temporary folder, without persistence, and
// stopped (and its folder removed) when the object goes.
#pragma once

#include <string>

namespace derived::testing {

class RedisServer {
 public:
  RedisServer();   // starts it and waits until it answers; ok() says whether it did
  ~RedisServer();  // stops it
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  const std::string& why() const { return why_; }  // when not ok()

 private:
  int pid_ = -1;
  int port_ = 0;
  std::string dir_, why_;
};

}  // namespace derived::testing
