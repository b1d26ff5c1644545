#include "postgres_server.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "util/strings.h"
#include "warehouse/postgres/pq.h"

namespace bench {
namespace {

void Check(const derived::Status& st, const char* what) {
  if (!st.ok()) {
    std::cerr << what << ": " << st.error().ToString() << "\n";
    std::exit(1);
  }
}

}  // namespace

PostgresServer& PostgresServer::Get() {
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() : state_(std::filesystem::temp_directory_path() / "derived-bench-pg") {
  std::string script = std::string(DERIVED_SOURCE_DIR) + "/tests/postgres/server.sh";
  cmd_ = derived::ShellQuote(script) + " {} " + derived::ShellQuote(state_.string()) + " >/dev/null 2>&1";
  if (std::system(fmt::format(fmt::runtime(cmd_), "start").c_str()) != 0) {
    std::cerr << "cannot start PostgreSQL (tests/postgres/server.sh)\n";
    std::exit(1);
  }
  std::ifstream(state_ / "port") >> port_;
  setenv("PGPASSFILE", (state_ / "pgpass").c_str(), 1);
}

PostgresServer::~PostgresServer() { (void)std::system(fmt::format(fmt::runtime(cmd_), "stop").c_str()); }

std::string PostgresServer::Database(const std::string& name) {
  auto admin = derived::pg::Connection::Open(fmt::format("host=127.0.0.1 port={} dbname=postgres user=postgres", port_));
  if (!admin.ok()) {
    std::cerr << "cannot connect to PostgreSQL: " << admin.error().message << "\n";
    std::exit(1);
  }
  Check((*admin)->Execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"), "drop database");
  Check((*admin)->Execute("CREATE DATABASE " + name), "create database");
  return fmt::format("host=127.0.0.1 port={} dbname={} user=postgres", port_, name);
}

}  // namespace bench
