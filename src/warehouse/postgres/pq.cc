#include "warehouse/postgres/pq.h"

#include <libpq-fe.h>

#include <poll.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived::pg {

bool IsTransient(const std::string& code) {
  if (code.size() != 5) return false;
  const std::string cls = code.substr(0, 2);
  // 08 connection, 53 resources, 57 operator intervention (terminated, cancelled, shutdown),
  // 40 rollbacks (deadlock, serialization); 55P03 lock timeout; 25P02 aborted transaction.
  return cls == "08" || cls == "53" || cls == "57" || cls == "40" || code == "55P03" || code == "25P02";
}
namespace {

std::atomic<int64_t> g_requests{0};

// Counts one request to the server (see Requests).
template <typename T>
T Counted(T result) {
  g_requests.fetch_add(1, std::memory_order_relaxed);
  return result;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultHandle = std::unique_ptr<PGresult, ResultDeleter>;

// The server's message, as it formats it: "ERROR:  ...", with "LINE n: ..." and a caret
// when it knows the position (as DuckDB's errors have), and any DETAIL or HINT.
std::string MessageOf(const PGresult* r) {
  std::string text = Trim(PQresultErrorMessage(r));
  if (text.rfind("ERROR:", 0) == 0) text = Trim(text.substr(6));
  return text;
}

// The server's message as an Error; its position in the statement, when it gives one,
// as where.column (1-based, in characters).
Error ErrorOf(const PGresult* r) {
  Error e(MessageOf(r));
  if (const char* pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)) e.where.column = std::atoi(pos);
  if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) e.code = state;
  // A result without a SQLSTATE: libpq's own (the connection broke).
  if (e.code.empty()) e.code = std::string(kConnectionFailure);
  return e;
}

bool Succeeded(const PGresult* r) {
  ExecStatusType s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

// Notices ("schema already exists, skipping") are not errors and not for the terminal.
void IgnoreNotice(void*, const char*) {}

}  // namespace

int64_t Requests() { return g_requests.load(std::memory_order_relaxed); }

Connection::Connection(pg_conn* conn) : conn_(conn) {}

std::string SessionSettings(int server_version) {
  std::string sql =
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
      "SET standard_conforming_strings = on; SET default_transaction_isolation = 'read committed'; "
      "SET default_transaction_read_only = off; SET statement_timeout = 0; SET lock_timeout = 0; "
      "SET idle_in_transaction_session_timeout = 0; SET idle_session_timeout = 0; SET client_encoding = 'UTF8'";
  // PostgreSQL 17 added a timeout on whole transactions, which a rebuild's one long
  // transaction would hit; older servers refuse a SET of a name they do not know.
  if (server_version >= 170000) sql += "; SET transaction_timeout = 0";
  return sql;
}

Connection::~Connection() {
  {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    if (cancel_) PQfreeCancel(cancel_);
    cancel_ = nullptr;
  }
  PQfinish(conn_);
}

const std::string* ConnectOptions::Find(std::string_view keyword) const {
  for (const auto& [k, v] : options) {
    if (k == keyword) return &v;
  }
  return nullptr;
}

Result<ConnectOptions> ParseConnectionString(const std::string& dsn) {
  char* why = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &why);
  if (parsed == nullptr) {
    std::string text = why ? Trim(why) : "out of memory";
    PQfreemem(why);
    return Error("invalid connection string: " + text);
  }
  ConnectOptions out;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out.options.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(parsed);
  const std::pair<const char*, const char*> defaults[] = {{"connect_timeout", "10"},   {"keepalives", "1"},
                                                          {"keepalives_idle", "30"},   {"keepalives_interval", "10"},
                                                          {"keepalives_count", "3"},   {"fallback_application_name", "derived"}};
  for (const auto& [k, v] : defaults) {
    if (!out.Find(k)) out.options.emplace_back(k, v);
  }
  return out;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& dsn) {
  auto options = ParseConnectionString(dsn);
  if (!options.ok()) return Error("cannot connect to PostgreSQL: " + options.error().message);
  return Open(*options);
}

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& given) {
  // The timeouts go in the startup packet too, which outranks database and role defaults
  // from the session's first statement on: a default of a millisecond would otherwise
  // cancel the very statement that sets them (SessionSettings, below) on a busy server.
  // (transaction_timeout stays out: a server before 17 refuses a connection naming it.)
  constexpr std::string_view kStartup =
      "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0";
  ConnectOptions options = given;
  bool merged = false;
  for (auto& [k, v] : options.options) {
    if (k != "options") continue;
    v = std::string(kStartup) + (v.empty() ? "" : " " + v);
    merged = true;
  }
  if (!merged) options.options.emplace_back("options", std::string(kStartup));
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : options.options) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (conn == nullptr) return Error("cannot connect to PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trim(PQerrorMessage(conn));
    PQfinish(conn);
    return Error("cannot connect to PostgreSQL: " + why);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  std::unique_ptr<Connection> c(new Connection(conn));
  // What Derived's statements assume, set for the session so no server, database or
  // role default changes it: UTC (as in DuckDB), plain ISO dates, backslashes that are
  // plain characters in '...' literals, READ COMMITTED (each statement sees what other
  // processes committed before it: the stale-plan check relies on it), and no statement
  // cut short by a default meant for interactive sessions. User SQL cannot change these
  // (set_config is refused).
  if (auto st = c->Execute(SessionSettings(PQserverVersion(conn))); !st.ok()) return st.error();
  {
    std::lock_guard<std::mutex> lock(c->cancel_mu_);
    c->cancel_ = PQgetCancel(conn);
  }
  return c;
}

std::string Connection::ErrorText() const { return Trim(PQerrorMessage(conn_)); }

Status Connection::Execute(std::string_view sql, std::string* command) {
  ResultHandle r(Counted(PQexec(conn_, std::string(sql).c_str())));
  if (!r) return Error(ErrorText(), {}, kConnectionFailure);
  if (!Succeeded(r.get())) return ErrorOf(r.get());
  if (command) *command = PQcmdStatus(r.get());
  return Status::Ok();
}

Result<Rows> Connection::Query(std::string_view sql, const std::vector<std::optional<std::string>>& params,
                               int64_t* changed) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  ResultHandle r(Counted(PQexecParams(conn_, std::string(sql).c_str(), static_cast<int>(params.size()), nullptr,
                              values.empty() ? nullptr : values.data(), nullptr, nullptr, /*resultFormat=*/0)));
  if (!r) return Error(ErrorText(), {}, kConnectionFailure);
  if (!Succeeded(r.get())) return ErrorOf(r.get());
  Rows rows;
  int n_cols = PQnfields(r.get()), n_rows = PQntuples(r.get());
  for (int c = 0; c < n_cols; ++c) {
    rows.columns.push_back(PQfname(r.get(), c));
    auto type = TypeName(PQftype(r.get(), c), PQfmod(r.get(), c));
    rows.types.push_back(type.ok() ? *type : "");
  }
  rows.rows.reserve(static_cast<size_t>(n_rows));
  for (int i = 0; i < n_rows; ++i) {
    std::vector<std::optional<std::string>> row;
    row.reserve(static_cast<size_t>(n_cols));
    for (int c = 0; c < n_cols; ++c) {
      if (PQgetisnull(r.get(), i, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r.get(), i, c), static_cast<size_t>(PQgetlength(r.get(), i, c))));
      }
    }
    rows.rows.push_back(std::move(row));
  }
  if (changed) {
    const char* n = PQcmdTuples(r.get());
    *changed = (n && *n) ? std::stoll(n) : 0;
  }
  return rows;
}

Result<std::vector<Column>> Connection::Describe(std::string_view sql) {
  // The unnamed statement: replaced by the next one, so nothing is left behind.
  ResultHandle prepared(Counted(PQprepare(conn_, "", std::string(sql).c_str(), 0, nullptr)));
  if (!prepared) return Error(ErrorText(), {}, kConnectionFailure);
  if (!Succeeded(prepared.get())) return ErrorOf(prepared.get());
  ResultHandle d(Counted(PQdescribePrepared(conn_, "")));
  if (!d) return Error(ErrorText(), {}, kConnectionFailure);
  if (!Succeeded(d.get())) return ErrorOf(d.get());
  std::vector<Column> cols;
  for (int c = 0; c < PQnfields(d.get()); ++c) {
    auto type = TypeName(PQftype(d.get(), c), PQfmod(d.get(), c));
    if (!type.ok()) return type.error();
    cols.push_back({PQfname(d.get(), c), *type});
  }
  return cols;
}

Result<std::string> Connection::TypeName(uint32_t oid, int modifier) {
  for (const auto& [key, name] : type_names_) {
    if (key.first == oid && key.second == modifier) return name;
  }
  std::string sql = fmt::format("SELECT format_type({}, {})", oid, modifier < 0 ? std::string("NULL") : std::to_string(modifier));
  ResultHandle r(Counted(PQexec(conn_, sql.c_str())));
  if (!r) return Error(ErrorText(), {}, kConnectionFailure);
  if (!Succeeded(r.get()) || PQntuples(r.get()) != 1) return ErrorOf(r.get());
  std::string name = PQgetvalue(r.get(), 0, 0);
  type_names_.push_back({{oid, modifier}, name});
  return name;
}

Result<std::unique_ptr<RowStream>> Connection::Stream(std::string_view sql) {
  // Described first (as the unnamed statement), while the connection is free to look up
  // the columns' type names.
  const size_t cached = type_names_.size();
  auto cols = Describe(sql);
  if (!cols.ok()) return cols.error();
  std::unique_ptr<RowStream> stream(new RowStream(this));
  stream->columns_ = std::move(*cols);
  if (type_names_.size() != cached) {
    // Looking a type name up replaced the unnamed statement: prepared again.
    ResultHandle again(Counted(PQprepare(conn_, "", std::string(sql).c_str(), 0, nullptr)));
    if (!again) return Error(ErrorText(), {}, kConnectionFailure);
    if (!Succeeded(again.get())) return ErrorOf(again.get());
  }
  if (!Counted(PQsendQueryPrepared(conn_, "", 0, nullptr, nullptr, nullptr, /*resultFormat=*/0))) return Error(ErrorText(), {}, kConnectionFailure);
  if (!stream->columns_.empty()) {
    (void)PQsetSingleRowMode(conn_);
    return stream;
  }
  if (auto st = stream->Drain(); !st.ok()) return st.error();  // a command: run to its end
  return stream;
}

Result<std::vector<std::vector<std::optional<std::string>>>> RowStream::Next(size_t max) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  while (!done_ && rows.size() < max) {
    ResultHandle r(PQgetResult(conn_->conn_));
    if (!r) {
      done_ = true;
      break;
    }
    ExecStatusType s = PQresultStatus(r.get());
    if (s != PGRES_SINGLE_TUPLE) {
      // The end (TUPLES_OK, no rows) or a failure: whatever follows is read and dropped.
      Status st = Succeeded(r.get()) ? Status::Ok() : Status(ErrorOf(r.get()));
      r.reset();
      Status rest = Drain();
      if (!st.ok()) return st.error();
      if (!rest.ok()) return rest.error();
      break;
    }
    std::vector<std::optional<std::string>> row;
    int n = PQnfields(r.get());
    row.reserve(static_cast<size_t>(n));
    for (int c = 0; c < n; ++c) {
      if (PQgetisnull(r.get(), 0, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r.get(), 0, c), static_cast<size_t>(PQgetlength(r.get(), 0, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status RowStream::Drain() {
  Status first;
  auto keep = [&](Status st) {
    if (first.ok() && !st.ok()) first = std::move(st);
  };
  pg_conn* c = conn_->conn_;
  while (true) {
    ResultHandle r(PQgetResult(c));
    if (!r) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_COPY_IN:
        (void)PQputCopyEnd(c, "derived query sends no COPY data");
        keep(Error("COPY ... FROM STDIN has no data to read here: copy from a file the server reads, or INSERT"));
        break;
      case PGRES_COPY_OUT: {
        char* buffer = nullptr;
        while (PQgetCopyData(c, &buffer, /*async=*/0) > 0) PQfreemem(buffer);
        keep(Error("COPY ... TO STDOUT is not shown here: use SELECT (or COPY to a file the server writes)"));
        break;
      }
      case PGRES_SINGLE_TUPLE:
        break;
      default:
        if (!Succeeded(r.get())) {
          keep(ErrorOf(r.get()));
        } else if (const char* n = PQcmdTuples(r.get()); n && *n) {
          changed_ = std::stoll(n);
        }
    }
  }
  done_ = true;
  return first;
}

RowStream::~RowStream() {
  if (done_) return;
  conn_->Cancel();  // the rows left are not wanted
  (void)Drain();
}

void Connection::Cancel() {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  if (!cancel_) return;
  char err[256];
  (void)PQcancel(cancel_, err, sizeof err);
}

bool Connection::InTransaction() const {
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

bool Connection::Lost() const { return PQstatus(conn_) == CONNECTION_BAD; }

int Connection::BackendPid() const { return PQbackendPID(conn_); }

Result<std::vector<Connection::Notification>> Connection::WaitForNotifications(int timeout_ms) {
  std::vector<Notification> out;
  auto take = [&]() -> Status {
    if (!PQconsumeInput(conn_)) return Error("the connection to PostgreSQL was lost: " + ErrorText());
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back({n->relname ? n->relname : "", n->extra ? n->extra : ""});
      PQfreemem(n);
    }
    return Status::Ok();
  };
  if (auto st = take(); !st.ok()) return st.error();
  if (!out.empty() || timeout_ms <= 0) return out;
  int fd = PQsocket(conn_);
  if (fd < 0) return Error("the connection to PostgreSQL was lost");
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready < 0 && errno != EINTR) return Error(fmt::format("poll: {}", std::strerror(errno)));
  if (ready > 0) {
    if (auto st = take(); !st.ok()) return st.error();
  }
  return out;
}

}  // namespace derived::pg
