// RAII over libpq, the only way Derived talks to PostgreSQL: one connection, results
// read whole as text (util/rows.h), errors as values.
//
// A Connection is used by one thread at a time; Cancel() may be called from any thread.
// An error's where.column is the server's 1-based character position in the statement
// when it gives one. No error text carries the connection string: a password given in it (or through
// PGPASSWORD / ~/.pgpass) never reaches a log.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/rows.h"
#include "util/status.h"

struct pg_conn;
struct pg_cancel;

namespace derived::pg {

// SQLSTATE connection_failure: what a statement that never reached the server fails with.
inline constexpr const char* kConnectionFailure = "08006";
// Whether `code` (a SQLSTATE) says the server could not answer now, not that the
// statement is wrong: connection exceptions, a terminated or cancelled backend, lock or
// resource limits, a transaction already aborted. Worth trying again later.
bool IsTransient(const std::string& code);

// One result column: its name and the server's spelling of its type ("bigint",
// "timestamp without time zone", "character varying(10)").
struct Column {
  std::string name;
  std::string type;
};

// Connection options as keyword/value pairs, handed to libpq as they are (never pasted
// back into a connection string, so no value can add an option).
struct ConnectOptions {
  std::vector<std::pair<std::string, std::string>> options;
  const std::string* Find(std::string_view keyword) const;
};

// Parses a connection string ("host=127.0.0.1 dbname=x" or "postgresql://host/x") with
// libpq's own parser, the one that will read it. Adds what a long-running client needs
// unless the string says otherwise: connect_timeout=10, TCP keepalives (idle 30 s,
// interval 10 s, 3 probes), fallback_application_name=derived. libpq's error names no value.
Result<ConnectOptions> ParseConnectionString(const std::string& dsn);

// The requests (round trips: a statement or script, a prepare, a describe) this process
// has sent to PostgreSQL servers on every connection so far, for the fleet's simulation
// and the benchmarks. Thread-safe.
int64_t Requests();

class Connection;

// The SET statements every session starts with (Connection::Open), for a server of
// `server_version` (server_version_num: 150004, 170000): each setting it knows.
std::string SessionSettings(int server_version);

// A statement's result read as it arrives, a chunk of rows at a time (libpq's single-row
// mode), so a large result never sits whole in memory. The connection runs nothing else
// until the stream is read to its end or destroyed (which cancels what is left).
class RowStream {
 public:
  ~RowStream();
  RowStream(const RowStream&) = delete;
  RowStream& operator=(const RowStream&) = delete;

  // Empty for a statement that returns no rows (a command: it has run to its end).
  const std::vector<Column>& columns() const { return columns_; }
  // For a command that reports a count of rows (INSERT, UPDATE, DELETE, MERGE, COPY, ...):
  // that count.
  std::optional<int64_t> changed() const { return changed_; }
  // Up to `max` more rows; empty at the end. An error when the statement failed (the
  // rows read before stay read).
  Result<std::vector<std::vector<std::optional<std::string>>>> Next(size_t max);

 private:
  friend class Connection;
  explicit RowStream(Connection* conn) : conn_(conn) {}
  // Reads results until libpq has none left; the first error is returned.
  Status Drain();
  Connection* conn_;  // not owned
  std::vector<Column> columns_;
  std::optional<int64_t> changed_;
  bool done_ = false;
};

class Connection {
 public:
  // Connects with parsed options (or a connection string, parsed first). Every session
  // is pinned to what Derived's SQL assumes, whatever the server, database or role
  // defaults say: UTC, ISO dates, standard-conforming strings, READ COMMITTED, read-write,
  // no statement, lock, idle or (PostgreSQL 17) transaction timeout.
  static Result<std::unique_ptr<Connection>> Open(const ConnectOptions& options);
  static Result<std::unique_ptr<Connection>> Open(const std::string& dsn);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements, discarding their results. `command` gets the server's
  // tag of the last one ("COMMIT", or "ROLLBACK" for a COMMIT of a failed transaction).
  Status Execute(std::string_view sql, std::string* command = nullptr);
  // Runs one statement with text parameters ($1, $2, ...; nullopt is NULL) and reads its
  // whole result. For INSERT, UPDATE and DELETE, `changed` gets the rows it changed.
  Result<Rows> Query(std::string_view sql, const std::vector<std::optional<std::string>>& params = {},
                     int64_t* changed = nullptr);
  // The columns a statement would return, from the server's own analysis of it (it is
  // prepared, described and deallocated, never run).
  Result<std::vector<Column>> Describe(std::string_view sql);
  // Runs one statement (of any kind; a script of several is refused by the server) and
  // returns its result as a stream. COPY ... FROM STDIN and TO STDOUT fail: there is no
  // client data to send and nowhere to write it.
  Result<std::unique_ptr<RowStream>> Stream(std::string_view sql);

  // Cancels the statement running on this connection, from any thread; a no-op when
  // nothing runs. The statement fails with "canceling statement due to user request".
  void Cancel();
  // True inside a transaction block (BEGIN ... COMMIT), failed or not.
  bool InTransaction() const;
  // True once the connection to the server is lost: nothing more can run on it.
  bool Lost() const;
  // The server's process id serving this connection (pg_terminate_backend's argument).
  int BackendPid() const;

  // A NOTIFY delivered on a channel this connection LISTENs on.
  struct Notification {
    std::string channel, payload;
  };
  // The notifications that have arrived, waiting up to `timeout_ms` for the first one
  // when none has (0: only those already here). An error once the connection is lost.
  Result<std::vector<Notification>> WaitForNotifications(int timeout_ms);

 private:
  friend class RowStream;
  explicit Connection(pg_conn* conn);
  std::string ErrorText() const;
  Result<std::string> TypeName(uint32_t oid, int modifier);

  pg_conn* conn_;
  std::mutex cancel_mu_;
  pg_cancel* cancel_ = nullptr;  // guarded by cancel_mu_
  std::vector<std::pair<std::pair<uint32_t, int>, std::string>> type_names_;  // cache
};

}  // namespace derived::pg
