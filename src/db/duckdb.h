// RAII wrappers over DuckDB's C API (the only way Derived talks to DuckDB).
// Every handle is destroyed exactly once; errors come back as values.
#pragma once

#define DUCKDB_API_NO_DEPRECATED
#include <duckdb.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/lockdown.h"
#include "db/value.h"
#include "util/rows.h"
#include "sql/statement_type.h"
#include "util/status.h"
#include "util/strings.h"

namespace derived::db {

// A fully read query result (util/rows.h).
using Rows = derived::Rows;

// Statements run in this process and their time inside DuckDB, all connections
// together: lets a benchmark tell the warehouse's work from Derived's own.
struct StatementTotals {
  int64_t count = 0;
  double seconds = 0;
};
StatementTotals Totals();

class Connection;

struct OpenOptions {
  // DuckDB configuration flags such as {"threads", "1"} (the lock-down's win over them).
  std::map<std::string, std::string> config;
  // What it may read and write besides its own files: nothing, unless given.
  FileAccess files;
  // Session settings (such as errors_as_json) of the first connection Connection::Open
  // returns: set before the configuration is locked, as no statement can set them after.
  std::map<std::string, std::string> session;
};

// A DuckDB database, locked down as db/lockdown.h says, in UTC.
class Database {
 public:
  // path ":memory:" (or empty) opens an in-memory database.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const OpenOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  duckdb_database handle() { return db_; }

  // Cancels the statement running on every open connection (from any thread): for
  // stopping a process whose threads each hold one.
  void InterruptAll();

  // An I/O error is fatal to the session, never to the data. After a failed commit or
  // a write error, DuckDB's in-memory state can no longer be trusted (a later commit
  // spliced the failed one's strings into its own), so from then on every statement on
  // every connection fails at once with this error and nothing reaches DuckDB again;
  // the process closes the database and the next one starts from what was committed.
  // Thread-safe. nullopt while healthy.
  std::optional<std::string> Failure() const;

 private:
  friend class Connection;
  friend class PreparedStatement;
  friend class Script;
  explicit Database(duckdb_database db) : db_(db) {}
  // The error to return instead of running a statement: set once the database failed.
  Status Usable() const;
  // Called with every failed statement's result: an I/O error, a failed commit or a
  // fatal error marks the database failed.
  void Check(duckdb_result* result, std::string_view sql);
  duckdb_database db_ = nullptr;
  mutable std::mutex mu_;
  std::set<duckdb_connection> connections_;  // guarded by mu_
  std::atomic<bool> failed_{false};
  std::string failure_;                      // guarded by mu_
  // The connection that locked the database down, with OpenOptions::session applied,
  // until the first Connection::Open takes it (guarded by mu_).
  std::unique_ptr<Connection> setup_;
};

class PreparedStatement;
class Script;

using ::derived::sql::StatementType;
using ::derived::sql::StatementTypeName;

// One connection: not thread-safe; give each thread its own.
class Connection {
 public:
  // REQUIRES: db outlives the connection. The first one has OpenOptions::session.
  static Result<std::unique_ptr<Connection>> Open(Database& db);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements and discards their results.
  Status Execute(std::string_view sql);
  // Runs one statement and reads its whole result.
  Result<Rows> Query(std::string_view sql);
  // Like Query, but a catalog error (a table or schema that does not exist) is nullopt.
  Result<std::optional<Rows>> QueryIfExists(std::string_view sql);
  Result<std::unique_ptr<PreparedStatement>> Prepare(std::string_view sql);
  // Runs `sql` only when DuckDB's parser reads it as exactly one statement and its binder
  // says it is of `type`; otherwise nothing runs. Reads the whole result (for INSERT,
  // UPDATE and DELETE: one row, the count).
  Result<Rows> QueryOne(std::string_view sql, StatementType type);
  // Splits `sql` into statements with DuckDB's own parser; nothing is bound or run. An
  // error when the SQL does not parse.
  Result<std::unique_ptr<Script>> Parse(std::string_view sql);

  duckdb_connection handle() { return conn_; }

 private:
  Connection(Database* db, duckdb_connection conn) : db_(db), conn_(conn) {}
  // DuckDB's split of `sql` into statements, without their texts (see Parse).
  Result<std::unique_ptr<Script>> Extract(std::string_view sql);
  duckdb_state Run(std::string_view sql, duckdb_result* result);  // timed: see Totals
  // The error of a failed statement, after letting the database judge whether it was fatal.
  Status Failed(duckdb_result* result, std::string_view sql);
  Database* db_;
  duckdb_connection conn_ = nullptr;
};

class PreparedStatement {
 public:
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  // Parameters are 1-based, as in DuckDB. Bindings stay until replaced, so a statement
  // can be executed many times with only the changed parameters bound again.
  Status BindText(size_t index, std::string_view value);
  Status BindInt(size_t index, int64_t value);
  Status BindBool(size_t index, bool value);
  Status BindNull(size_t index);
  Result<Rows> Execute();
  // Runs it and returns its result to read chunk by chunk, with types kept.
  Result<std::unique_ptr<TypedResult>> ExecuteTyped(TimeStyle style);

  StatementType type() const;

 private:
  friend class Connection;
  friend class Script;
  PreparedStatement(Database* db, duckdb_prepared_statement stmt) : db_(db), stmt_(stmt) {}
  Database* db_;  // not owned
  duckdb_prepared_statement stmt_ = nullptr;
};

// The statements of one SQL text, parsed by DuckDB and not yet bound.
class Script {
 public:
  ~Script();
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  size_t size() const { return count_; }
  // The text of statement `index` as written, or "" when it cannot be told (see
  // sql/text.h). Some text becomes several statements (PIVOT, PRAGMA import_database):
  // each of them gets that text, and text_is_whole() is false.
  const std::string& text(size_t index) const { return texts_[index]; }
  bool text_is_whole(size_t index) const { return whole_[index]; }
  // Binds statement `index` (0-based) against the catalog as it is now: bind each one
  // just before it runs, since it may read what an earlier one created.
  // REQUIRES: index < size(); the connection outlives the script.
  Result<std::unique_ptr<PreparedStatement>> Prepare(size_t index);

 private:
  friend class Connection;
  Script(Database* db, duckdb_connection conn, duckdb_extracted_statements statements, size_t count)
      : db_(db), conn_(conn), statements_(statements), count_(count), texts_(count), whole_(count, false) {}
  Database* db_;  // not owned
  duckdb_connection conn_;
  duckdb_extracted_statements statements_;
  size_t count_;
  std::vector<std::string> texts_;
  std::vector<bool> whole_;
};

// Standard SQL quoting (util/strings.h), which DuckDB reads.
using derived::QuoteIdentifier;
using derived::QuoteLiteral;

}  // namespace derived::db
