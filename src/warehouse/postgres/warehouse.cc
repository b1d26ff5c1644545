// The PostgreSQL warehouse: a server shared by many processes, one libpq connection per
// session. User SQL is checked by DuckDB's parser (the same checks as on DuckDB, on a
// private in-memory DuckDB that holds no data), then runs on the server.
#include "warehouse/postgres/warehouse.h"

#include <mutex>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "db/duckdb.h"
#include "sql/parser.h"
#include "util/strings.h"
#include "warehouse/postgres/pq.h"
#include "warehouse/postgres/typecheck.h"
#include "warehouse/sql_writer.h"

namespace derived {
namespace {

class PostgresDialect final : public SqlDialect {
 public:
  std::string TempTable(const std::string& name) const override { return "pg_temp." + Ident(name); }
  std::string TimestampLiteral(Timestamp t) const override { return FormatSqlLiteral(t); }
  bool TypeFits(const std::string& declared, const std::string& actual) const override {
    return PostgresTypeFits(declared, actual);
  }
  std::string IsoText(const std::string& expr) const override {
    return "to_char(" + expr + ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
  }
  // _derived.raise_error is created with the metadata schema (EnsureFunctions).
  std::string RaiseIf(const std::string& condition, std::string_view message) const override {
    return fmt::format("CASE WHEN {} THEN _derived.raise_error({}) ELSE true END", condition, Literal(message));
  }

  std::string BatchAggregate(MergeRule rule, const std::string& c, const std::string& tc) const override {
    switch (rule) {
      // PostgreSQL has no first(): the first element of the ordered array is the same
      // pick, with ties on the time column broken by the value itself.
      case MergeRule::kLatest:
        return fmt::format("(array_agg({0} ORDER BY {1} DESC NULLS LAST, {0} DESC NULLS LAST))[1]", c, tc);
      case MergeRule::kEarliest:
        return fmt::format("(array_agg({0} ORDER BY {1} ASC NULLS LAST, {0} ASC NULLS LAST))[1]", c, tc);
      case MergeRule::kMin:
        return "min(" + c + ")";
      case MergeRule::kMax:
        return "max(" + c + ")";
      case MergeRule::kSum:
        return "sum(" + c + ")";
      case MergeRule::kCount:
        return "count(" + c + ")";
      case MergeRule::kCoalesce:
        return fmt::format("(array_agg({0} ORDER BY {1} ASC NULLS LAST, {0} ASC) FILTER (WHERE {0} IS NOT NULL))[1]",
                           c, tc);
    }
    return c;
  }
};

// What every session of one warehouse shares: where it is and who is running.
struct Shared {
  std::string dsn;
  std::mutex mu;
  std::set<pg::Connection*> sessions;  // guarded by mu
};

// The text of a DESCRIBE-shaped statement without its DESCRIBE: PostgreSQL describes a
// prepared statement instead. The line break after DESCRIBE is kept, so the query starts
// on the line Embedding::QueryLine() says.
std::string_view WithoutDescribe(std::string_view statement) {
  std::string_view rest = statement;
  if (rest.size() >= 8 && ToLower(std::string(rest.substr(0, 8))) == "describe") rest.remove_prefix(8);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

Result<int64_t> Changed(const Result<Rows>& rows, int64_t changed) {
  if (!rows.ok()) return rows.error();
  return changed;
}

class PostgresStatement final : public Statement {
 public:
  PostgresStatement(pg::Connection* conn, std::string sql) : conn_(conn), sql_(std::move(sql)) {}

  Result<int64_t> Run(const std::vector<Value>& params) override {
    std::vector<std::optional<std::string>> text;
    text.reserve(params.size());
    for (const Value& v : params) {
      if (std::holds_alternative<std::monostate>(v)) text.emplace_back(std::nullopt);
      if (const auto* s = std::get_if<std::string>(&v)) text.emplace_back(*s);
      if (const auto* n = std::get_if<int64_t>(&v)) text.emplace_back(std::to_string(*n));
      if (const auto* b = std::get_if<bool>(&v)) text.emplace_back(*b ? "true" : "false");
    }
    int64_t changed = 0;
    auto rows = crash::AtStatement(sql_, [&] { return conn_->Query(sql_, text, &changed); });
    return Changed(rows, changed);
  }

 private:
  pg::Connection* conn_;
  std::string sql_;
};

class PostgresTableWriter final : public SqlTableWriter {
 public:
  using SqlTableWriter::SqlTableWriter;

  // CREATE OR REPLACE VIEW keeps a view's columns (it may only add some at the end), so
  // a view whose columns changed is dropped and created again, in the same transaction.
  WriteStatus CreateView(const sql::CheckedSelect& query, const WriteTarget& t) override {
    if (auto st = wh_.Execute("SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
    auto replaced = SqlTableWriter::CreateView(query, t);
    if (replaced.ok()) {
      if (auto st = wh_.Execute("RELEASE SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
      return replaced;
    }
    if (auto st = wh_.Execute("ROLLBACK TO SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
    if (auto st = wh_.Execute("DROP VIEW IF EXISTS " + Name(*t.def, Into::kTable)); !st.ok()) {
      return WriteError(st.error());
    }
    return SqlTableWriter::CreateView(query, t);
  }
};

class PostgresWarehouse final : public Warehouse {
 public:
  PostgresWarehouse(std::shared_ptr<Shared> shared, std::unique_ptr<pg::Connection> conn)
      : shared_(std::move(shared)), conn_(std::move(conn)) {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->sessions.insert(conn_.get());
  }
  ~PostgresWarehouse() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->sessions.erase(conn_.get());
  }

  static Result<std::unique_ptr<Warehouse>> OpenSession(std::shared_ptr<Shared> shared) {
    auto conn = pg::Connection::Open(shared->dsn);
    if (!conn.ok()) return conn.error();
    return std::unique_ptr<Warehouse>(new PostgresWarehouse(std::move(shared), std::move(*conn)));
  }

  std::string_view engine() const override { return "postgres"; }
  Capabilities capabilities() const override { return CapabilitiesOf(WarehouseEngine::kPostgres); }

  // A transaction-scoped advisory lock on a key derived from the table's name: released
  // by COMMIT or ROLLBACK, or when the connection dies.
  Status LockTable(const std::string& table) override {
    auto locked = conn_->Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {"derived.table:" + table});
    if (!locked.ok()) return locked.error();
    return Status::Ok();
  }
  const SqlDialect& dialect() const override { return dialect_; }
  TableWriter& writer() override { return writer_; }

  Result<std::unique_ptr<Warehouse>> Connect() override { return OpenSession(shared_); }
  void Interrupt() override { conn_->Cancel(); }
  void InterruptAll() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    for (pg::Connection* c : shared_->sessions) c->Cancel();
  }
  // The server keeps its data consistent through any client failure: a lost connection
  // rolls back what it had not committed, and the next session starts clean.
  std::optional<std::string> Failure() const override { return std::nullopt; }

  Status Execute(std::string_view sql) override {
    return crash::AtStatement(sql, [&] { return conn_->Execute(sql); });
  }
  Result<Rows> Query(std::string_view sql) override {
    return crash::AtStatement(sql, [&] { return conn_->Query(sql); });
  }
  Result<int64_t> ExecuteCount(std::string_view sql) override {
    int64_t changed = 0;
    auto rows = crash::AtStatement(sql, [&] { return conn_->Query(sql, {}, &changed); });
    return Changed(rows, changed);
  }
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override {
    return std::unique_ptr<Statement>(new PostgresStatement(conn_.get(), std::string(sql)));
  }

  Status Begin() override { return Execute("BEGIN"); }
  // A COMMIT of a transaction that had failed succeeds as a ROLLBACK: never a success.
  Status Commit() override {
    std::string tag;
    auto st = crash::AtStatement("COMMIT", [&] { return conn_->Execute("COMMIT", &tag); });
    if (!st.ok()) return st;
    if (tag != "COMMIT") return Error("the transaction could not commit and was rolled back");
    return Status::Ok();
  }
  Status Rollback() override { return Execute("ROLLBACK"); }

  Status UseDataset(const std::string& dataset) override {
    if (auto st = EnsureDataset(dataset); !st.ok()) return st;
    return conn_->Execute("SET search_path TO " + QuoteIdentifier(dataset));
  }
  Status EnsureDataset(const std::string& dataset) override {
    auto st = conn_->Execute("CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(dataset));
    // Two processes creating it at once: one of them loses the race, which is no error.
    if (!st.ok() && st.error().message.find("duplicate key") != std::string::npos) return Status::Ok();
    return st;
  }

  Result<sql::CheckedSelect> CheckQuery(std::string_view sql) override {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    return (*parser)->CheckSelect(sql);
  }

  Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    int64_t changed = 0;
    return RunEmbedded(query, embedding, &changed);
  }
  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    int64_t changed = 0;
    auto rows = RunEmbedded(query, embedding, &changed);
    return Changed(rows, changed);
  }

  Result<std::vector<OutputColumn>> DescribeQuery(const sql::CheckedSelect& query,
                                                  const sql::Embedding& embedding) override {
    if (auto st = CheckEmbedded(query, embedding); !st.ok()) return st.error();
    return Describe(WithoutDescribe(embedding.Statement(query.text())));
  }

  Result<std::vector<OutputColumn>> Describe(std::string_view select) override {
    auto cols = conn_->Describe(select);
    if (!cols.ok()) return cols.error();
    std::vector<OutputColumn> out;
    for (const auto& c : *cols) out.push_back({ToLower(c.name), c.type});
    return out;
  }

  Result<std::string> CanonicalType(const std::string& type) override {
    auto it = canonical_.find(type);
    if (it != canonical_.end()) return it->second;
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    if (auto st = (*parser)->CheckType(type); !st.ok()) return st.error();
    // Inside a transaction a failed describe would abort it: try under a savepoint.
    bool in_tx = conn_->InTransaction();
    if (in_tx) {
      if (auto st = conn_->Execute("SAVEPOINT derived_type"); !st.ok()) return st.error();
    }
    auto cols = Describe("SELECT CAST(NULL AS " + type + ") AS t");
    if (in_tx) (void)conn_->Execute(cols.ok() ? "RELEASE SAVEPOINT derived_type" : "ROLLBACK TO SAVEPOINT derived_type");
    if (!cols.ok() || cols->size() != 1) {
      return Error(fmt::format("unknown type '{}' in PostgreSQL{}", type,
                               cols.ok() ? "" : ": " + Split(cols.error().message, '\n')[0]));
    }
    canonical_[type] = (*cols)[0].type;
    return (*cols)[0].type;
  }

  Result<std::optional<std::vector<OutputColumn>>> Columns(const std::string& dataset,
                                                           const std::string& table) override {
    auto rows = conn_->Query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.oid FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY a.attnum",
        {dataset, table});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<std::vector<OutputColumn>>();
    std::vector<OutputColumn> cols;
    for (const auto& r : rows->rows) {
      if (r[0]) cols.push_back({ToLower(*r[0]), r[1].value_or("")});
    }
    return std::optional<std::vector<OutputColumn>>(std::move(cols));
  }

 private:
  Status CheckEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    return (*parser)->CheckEmbedded(embedding.Select(query.text()), query, embedding);
  }

  // The extended query protocol runs exactly one statement: text that would end
  // Derived's statement and start another is refused by the server as well.
  Result<Rows> RunEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding, int64_t* changed) {
    if (auto st = CheckEmbedded(query, embedding); !st.ok()) return st.error();
    const std::string statement = embedding.Statement(query.text());
    return crash::AtStatement(statement, [&] { return conn_->Query(statement, {}, changed); });
  }

  // DuckDB's parser on a database of its own that holds nothing and reads no file.
  Result<sql::SqlParser*> Parser() {
    if (!parser_) {
      db::OpenOptions options;
      options.config = {{"threads", "1"}};
      auto db = db::Database::Open(":memory:", options);
      if (!db.ok()) return db.error();
      parse_db_ = std::move(*db);
      auto conn = db::Connection::Open(*parse_db_);
      if (!conn.ok()) return conn.error();
      parse_conn_ = std::move(*conn);
      auto p = sql::SqlParser::Create(parse_conn_.get());
      if (!p.ok()) return p.error();
      parser_ = std::move(*p);
    }
    return parser_.get();
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<pg::Connection> conn_;
  PostgresDialect dialect_;
  PostgresTableWriter writer_{*this};
  std::map<std::string, std::string> canonical_;
  // Declared in this order so the parser goes before its connection, and that before
  // its database.
  std::unique_ptr<db::Database> parse_db_;
  std::unique_ptr<db::Connection> parse_conn_;
  std::unique_ptr<sql::SqlParser> parser_;
};

// The guard function the strategy writers call (PostgresDialect::RaiseIf), made once per
// warehouse; another process making it at the same moment is no error.
Status EnsureFunctions(pg::Connection& conn) {
  auto found = conn.Query(
      "SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
      "WHERE n.nspname = '_derived' AND p.proname = 'raise_error'");
  if (!found.ok()) return found.error();
  if (found->size() > 0) return Status::Ok();
  auto st = conn.Execute(
      "CREATE SCHEMA IF NOT EXISTS _derived;"
      "CREATE FUNCTION _derived.raise_error(message text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS "
      "$fn$ BEGIN RAISE EXCEPTION '%', message; END $fn$");
  if (!st.ok() && st.error().message.find("already exists") == std::string::npos &&
      st.error().message.find("duplicate key") == std::string::npos) {
    return st;
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const std::string& dsn) {
  auto shared = std::make_shared<Shared>();
  shared->dsn = dsn;
  auto wh = PostgresWarehouse::OpenSession(shared);
  if (!wh.ok()) return wh.error();
  auto conn = pg::Connection::Open(dsn);
  if (!conn.ok()) return conn.error();
  if (auto st = EnsureFunctions(**conn); !st.ok()) {
    return Error("cannot prepare the PostgreSQL warehouse: " + st.error().message);
  }
  return wh;
}

}  // namespace derived
