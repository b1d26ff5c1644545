// A real PostgreSQL server for tests (tests/postgres/server.sh): the one the ctest
// fixture started for the whole run, or else one this process starts and stops at exit.
// Each test gets a database of its own, dropped with it.
#pragma once

#include <string>

namespace derived::testing {

class PostgresDatabase {
 public:
  PostgresDatabase();   // creates an empty database; fails the test when the server cannot start
  ~PostgresDatabase();  // drops it
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  bool ok() const { return !dsn_.empty(); }
  // A libpq connection string for it: host=127.0.0.1 port=N dbname=... user=postgres
  const std::string& dsn() const { return dsn_; }
  const std::string& name() const { return name_; }
  // Runs SQL as the superuser in this database through psql (independent of Derived's
  // own client), returning what psql printed (unaligned, tuples only) or "ERROR: ...".
  std::string Psql(const std::string& sql) const;

 private:
  std::string name_, dsn_;
};

// The server's port (starting it if needed), or 0 when it cannot start.
int PostgresPort();

}  // namespace derived::testing
