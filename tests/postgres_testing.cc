#include "postgres_testing.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "util/strings.h"

namespace derived::testing {
namespace {

std::string StateDir() {
  if (const char* dir = std::getenv("DERIVED_PG_STATE")) return dir;
  return std::string(DERIVED_BUILD_DIR) + "/pg-test";
}

std::string Script() { return std::string(DERIVED_SOURCE_DIR) + "/tests/postgres/server.sh"; }

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

int ReadPort() {
  std::ifstream in(StateDir() + "/port");
  int port = 0;
  in >> port;
  return port;
}

// Stops the server at exit when this process started it (not the ctest fixture's).
struct Owner {
  bool started = false;
  ~Owner() {
    if (started) (void)std::system((ShellQuote(Script()) + " stop " + ShellQuote(StateDir()) + " >/dev/null 2>&1").c_str());
  }
};
Owner owner;

}  // namespace

int PostgresPort() {
  static std::once_flag once;
  static int port = 0;
  std::call_once(once, [] {
    bool running = ReadPort() > 0 &&
                   std::system(fmt::format("pg_isready -q -h 127.0.0.1 -p {} >/dev/null 2>&1", ReadPort()).c_str()) == 0;
    if (!running) {
      // server.sh holds a lock: parallel test processes wait for the one that starts it.
      // Another process may have started it meanwhile: only the starter stops it.
      owner.started = Trim(RunCapture(ShellQuote(Script()) + " start " + ShellQuote(StateDir()))) == "started";
    }
    port = ReadPort();
    // The server's password, for psql here and every derived process a test starts,
    // as a user would give it (never in the dsn).
    setenv("PGPASSFILE", (StateDir() + "/pgpass").c_str(), 1);
  });
  return port;
}

PostgresDatabase::PostgresDatabase() {
  int port = PostgresPort();
  if (port == 0) {
    ADD_FAILURE() << "the test PostgreSQL server did not start (tests/postgres/server.sh)";
    return;
  }
  std::random_device rd;
  name_ = fmt::format("t_{:08x}{:08x}", rd(), rd());
  std::string out = RunCapture(fmt::format("psql -X -q -h 127.0.0.1 -p {} -U postgres -d postgres -c {} 2>&1", port,
                                           ShellQuote("CREATE DATABASE " + name_)));
  if (!Trim(out).empty()) {
    ADD_FAILURE() << "cannot create a test database: " << out;
    return;
  }
  dsn_ = fmt::format("host=127.0.0.1 port={} dbname={} user=postgres", port, name_);
}

PostgresDatabase::~PostgresDatabase() {
  if (dsn_.empty()) return;
  (void)RunCapture(fmt::format("psql -X -q -h 127.0.0.1 -p {} -U postgres -d postgres -c {} 2>&1", PostgresPort(),
                               ShellQuote("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)")));
}

std::string PostgresDatabase::Psql(const std::string& sql) const {
  return Trim(RunCapture(fmt::format("psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p {} -U postgres -d {} -c {} 2>&1",
                                     PostgresPort(), name_, ShellQuote(sql))));
}

}  // namespace derived::testing
