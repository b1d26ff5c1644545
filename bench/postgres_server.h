// A PostgreSQL server for a benchmark process (tests/postgres/server.sh), started in a
// temporary directory on a free loopback port on first use and stopped at exit.
#pragma once

#include <filesystem>
#include <string>

namespace bench {

class PostgresServer {
 public:
  static PostgresServer& Get();
  ~PostgresServer();
  // A new empty database (an older one of the name is dropped); its connection string.
  std::string Database(const std::string& name);

 private:
  PostgresServer();
  std::filesystem::path state_;
  std::string cmd_;  // server.sh {} STATE
  int port_ = 0;
};

}  // namespace bench
