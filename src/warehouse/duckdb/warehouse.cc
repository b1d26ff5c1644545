// The DuckDB warehouse: one embedded database file, one connection. DuckDB runs each
// query on all cores itself, so one connection is what a single writer needs.
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "warehouse/duckdb/file_access.h"
#include "compile/typecheck.h"
#include "warehouse/duckdb/typecheck.h"
#include "crash/crash_point.h"
#include "sql/text.h"
#include "sql/parser.h"
#include "util/strings.h"
#include "warehouse/duckdb/file_sources.h"
#include "warehouse/duckdb/script.h"
#include "warehouse/metadata_tables.h"
#include "warehouse/duckdb/warehouse.h"
#include "warehouse/sql_writer.h"

namespace derived {
namespace {

class DuckDbDialect final : public SqlDialect {
 public:
  std::string TempTable(const std::string& name) const override { return "temp.main." + Ident(name); }
  std::string TimestampLiteral(Timestamp t) const override { return FormatSqlLiteral(t); }
  bool TypeFits(const std::string& declared, const std::string& actual) const override {
    return DuckDbTypeFits(declared, actual);
  }
  std::string IsoText(const std::string& expr) const override {
    return "strftime(" + expr + ", '%Y-%m-%dT%H:%M:%SZ')";
  }
  std::string RaiseIf(const std::string& condition, std::string_view message) const override {
    return fmt::format("CASE WHEN {} THEN error({}) ELSE true END", condition, Literal(message));
  }

  // One row per key: GROUP BY, each column by its aggregate.
  Combine CombineByKey(const std::vector<std::string>& keys, const std::vector<BatchColumn>& columns,
                       const std::string& tc) const override {
    std::vector<std::string> select = keys;
    for (const auto& col : columns) select.push_back(Aggregate(col.rule, col.name, tc) + " AS " + col.name);
    return {Join(select, ", "), " GROUP BY " + Join(keys, ", ")};
  }

 private:
  static std::string Aggregate(MergeRule rule, const std::string& c, const std::string& tc) {
    switch (rule) {
      // Ties on the time column are broken by the value itself: never an arbitrary pick.
      case MergeRule::kLatest:
        return fmt::format("first({0} ORDER BY {1} DESC NULLS LAST, {0} DESC NULLS LAST)", c, tc);
      case MergeRule::kEarliest:
        return fmt::format("first({0} ORDER BY {1} ASC NULLS LAST, {0} ASC NULLS LAST)", c, tc);
      case MergeRule::kMin:
        return "min(" + c + ")";
      case MergeRule::kMax:
        return "max(" + c + ")";
      case MergeRule::kSum:
        return "sum(" + c + ")";
      case MergeRule::kCount:
        return "count(" + c + ")";
      case MergeRule::kCoalesce:
        return fmt::format("first({0} ORDER BY {1} ASC NULLS LAST, {0} ASC) FILTER (WHERE {0} IS NOT NULL)", c, tc);
    }
    return c;
  }
};

// DuckDB answers INSERT, UPDATE and DELETE with one row holding the count.
int64_t ChangedRows(const db::Rows& rows) {
  if (rows.size() != 1 || rows.columns.size() != 1 || rows.columns[0] != "Count" || !rows.at(0, 0)) return 0;
  return std::stoll(*rows.at(0, 0));
}


class DuckDbStatement final : public Statement {
 public:
  DuckDbStatement(std::unique_ptr<db::PreparedStatement> stmt, std::string_view sql)
      : stmt_(std::move(stmt)), verb_(sql::FirstWord(sql)) {}

  Result<int64_t> Run(const std::vector<Value>& params) override {
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      Status st = Status::Ok();
      if (std::holds_alternative<std::monostate>(v)) st = stmt_->BindNull(i + 1);
      if (const auto* text = std::get_if<std::string>(&v)) st = stmt_->BindText(i + 1, *text);
      if (const auto* n = std::get_if<int64_t>(&v)) st = stmt_->BindInt(i + 1, *n);
      if (const auto* b = std::get_if<bool>(&v)) st = stmt_->BindBool(i + 1, *b);
      if (!st.ok()) return st.error();
    }
    auto r = crash::AtStatement(verb_, [&] { return stmt_->Execute(); });
    if (!r.ok()) return r.error();
    return ChangedRows(*r);
  }

 private:
  std::unique_ptr<db::PreparedStatement> stmt_;
  std::string verb_;  // for its crash points
};

class DuckDbWarehouse final : public Warehouse {
 public:
  DuckDbWarehouse(std::shared_ptr<db::Database> db, std::unique_ptr<db::Connection> conn)
      : db_(std::move(db)), conn_(std::move(conn)) {}

  std::string_view engine() const override { return "duckdb"; }
  Capabilities capabilities() const override { return CapabilitiesOf(WarehouseEngine::kDuckDb); }
  const SqlDialect& dialect() const override { return dialect_; }

  Result<std::unique_ptr<Warehouse>> Connect() override { return OpenSession(db_); }
  void Interrupt() override { duckdb_interrupt(conn_->handle()); }
  void InterruptAll() override { db_->InterruptAll(); }
  std::optional<std::string> Failure() const override { return db_->Failure(); }
  // Files written by earlier versions: `watermark` became `complete_through`, and a
  // replace table's old watermark (the period of its build, whatever its inputs held) is
  // forgotten so that its next step records what its inputs really allow.
  Status CreateMetadataSchema() override {
    if (auto st = Execute(MetadataTablesSql()); !st.ok()) return st;
    auto cols = Columns("_derived", "state");
    if (!cols.ok()) return cols.error();
    bool old = false;
    for (const auto& c : cols->value_or(std::vector<OutputColumn>{})) old = old || c.name == "watermark";
    if (!old) return Status::Ok();
    return InTransaction(*this, [&] {
      return Execute(
          "ALTER TABLE _derived.state RENAME COLUMN watermark TO complete_through;"
          "ALTER TABLE _derived.state DROP COLUMN built_period;"
          "UPDATE _derived.state SET complete_through = NULL WHERE json_extract_string(config, '$.strategy') = "
          "'replace'");
    });
  }

  Status CreateMetadataTables(const std::string& schema) override { return Execute(MetadataTablesSql(schema)); }


  Result<OpenedScript> OpenScript(std::string_view sql, ScriptAccess access, TimeStyle style) override {
    return OpenDuckDbScript(*conn_, sql, access, style);
  }
  TableWriter& writer() override { return writer_; }
  FileSources* file_sources() override { return &file_sources_; }

  // A new connection on `db`, set up as every session must be.
  static Result<std::unique_ptr<Warehouse>> OpenSession(std::shared_ptr<db::Database> db) {
    // Timestamps are UTC throughout: the database is (db::Database::Open), so TIMESTAMPTZ
    // casts agree in every session.
    auto conn = db::Connection::Open(*db);
    if (!conn.ok()) return conn.error();
    return std::unique_ptr<Warehouse>(new DuckDbWarehouse(std::move(db), std::move(*conn)));
  }

  Status Execute(std::string_view sql) override {
    return crash::AtStatement(sql, [&] { return conn_->Execute(sql); });
  }
  Result<db::Rows> Query(std::string_view sql) override {
    return crash::AtStatement(sql, [&] { return conn_->Query(sql); });
  }

  Result<int64_t> ExecuteCount(std::string_view sql) override {
    auto rows = crash::AtStatement(sql, [&] { return conn_->Query(sql); });
    if (!rows.ok()) return rows.error();
    return ChangedRows(*rows);
  }

  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override {
    auto stmt = conn_->Prepare(sql);
    if (!stmt.ok()) return stmt.error();
    return std::unique_ptr<Statement>(new DuckDbStatement(std::move(*stmt), sql));
  }

  Status Begin() override { return Execute("BEGIN TRANSACTION"); }
  Status Commit() override { return Execute("COMMIT"); }
  Status Rollback() override { return Execute("ROLLBACK"); }

  // Not cached: a schema created inside a transaction that rolled back is gone again.
  Status UseDataset(const std::string& dataset) override {
    if (auto st = EnsureDataset(dataset); !st.ok()) return st;
    return conn_->Execute("SET search_path = " + db::QuoteLiteral(dataset));
  }

  Status EnsureDataset(const std::string& dataset) override {
    return conn_->Execute("CREATE SCHEMA IF NOT EXISTS " + db::QuoteIdentifier(dataset));
  }

  Result<sql::CheckedSelect> CheckQuery(std::string_view sql) override {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    return (*parser)->CheckSelect(sql);
  }

  Result<db::Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    if (auto st = (*parser)->CheckEmbedded(embedding.Select(query.text()), query, embedding); !st.ok()) {
      return st.error();
    }
    const std::string statement = embedding.Statement(query.text());
    return crash::AtStatement(statement, [&] { return conn_->QueryOne(statement, embedding.type()); });
  }

  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    auto rows = QueryEmbedded(query, embedding);
    if (!rows.ok()) return rows.error();
    return ChangedRows(*rows);
  }

  Result<std::vector<OutputColumn>> DescribeQuery(const sql::CheckedSelect& query,
                                                  const sql::Embedding& embedding) override {
    auto rows = QueryEmbedded(query, embedding);
    if (!rows.ok()) return rows.error();
    return Columns(*rows);
  }

  Result<std::vector<OutputColumn>> Describe(std::string_view select) override {
    // On a line of its own, so an error's "LINE n" counts the query's lines.
    auto rows = conn_->QueryOne("DESCRIBE\n" + std::string(select), db::StatementType::kSelect);
    if (!rows.ok()) return rows.error();
    return Columns(*rows);
  }

  Result<std::string> CanonicalType(const std::string& type) override {
    auto it = canonical_.find(type);
    if (it != canonical_.end()) return it->second;
    // A declared type is a user's text: only one type name may go into Derived's SQL,
    // and then in the engine's own spelling (sql/parser.h).
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    if (auto st = (*parser)->CheckType(type); !st.ok()) return st.error();
    auto cols = Describe("SELECT CAST(NULL AS " + type + ") AS t");
    if (!cols.ok() || cols->size() != 1) return Error(fmt::format("unknown type '{}'", type));
    if (auto st = (*parser)->CheckType((*cols)[0].type); !st.ok()) return st.error();
    canonical_[type] = (*cols)[0].type;
    return (*cols)[0].type;
  }

  Result<std::optional<std::vector<OutputColumn>>> Columns(const std::string& dataset,
                                                           const std::string& table) override {
    // pragma_table_info looks the one table up; information_schema scans the whole
    // catalog, which costs milliseconds per call in a warehouse of thousands of tables.
    std::string qualified = dialect_.Ident(dataset) + "." + dialect_.Ident(table);
    auto rows = conn_->QueryIfExists(
        fmt::format("SELECT name, type FROM pragma_table_info({}) ORDER BY cid", db::QuoteLiteral(qualified)));
    if (!rows.ok()) return rows.error();
    if (!rows->has_value()) return std::optional<std::vector<OutputColumn>>();
    std::vector<OutputColumn> cols;
    for (const auto& r : (*rows)->rows) cols.push_back({ToLower(r[0].value_or("")), r[1].value_or("")});
    return std::optional<std::vector<OutputColumn>>(std::move(cols));
  }

 private:
  // DESCRIBE's rows: name, type, ...
  static std::vector<OutputColumn> Columns(const db::Rows& rows) {
    std::vector<OutputColumn> cols;
    for (const auto& r : rows.rows) cols.push_back({ToLower(r[0].value_or("")), r[1].value_or("")});
    return cols;
  }

  // The parser that checks user SQL, on this session's connection: made when first needed.
  Result<sql::SqlParser*> Parser() {
    if (!parser_) {
      auto p = sql::SqlParser::Create(conn_.get());
      if (!p.ok()) return p.error();
      parser_ = std::move(*p);
    }
    return parser_.get();
  }

  std::shared_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<sql::SqlParser> parser_;  // declared after conn_: destroyed before it
  DuckDbDialect dialect_;
  SqlTableWriter writer_{*this};
  DuckDbFileSources file_sources_{*this};
  std::map<std::string, std::string> canonical_;
};

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenDuckDbWarehouse(const std::string& path, const db::FileAccess& files) {
  // Every mutation commits data, log row and state together. At DuckDB's default 16MB
  // WAL threshold that checkpoints on nearly every large window (about 50ms per million
  // rows); checkpointing every 256MB does the same work far less often.
  db::OpenOptions options;
  options.config = {{"checkpoint_threshold", "256MB"}};
  options.files = files;
  auto db = db::Database::Open(path, options);
  if (!db.ok()) {
    const std::string& msg = db.error().message;
    if (msg.find("Could not set lock") != std::string::npos) {
      auto pid = msg.find("(PID ");
      std::string holder = pid == std::string::npos ? "another process" : "another process " + msg.substr(pid, msg.find(')', pid) - pid + 1);
      return Error(fmt::format(
          "the DuckDB warehouse '{}' is in use by {}: an embedded DuckDB file has one writing process. Run one "
          "`derived run` service for the project and other commands go through it; separate per-table `derived "
          "update` processes need a warehouse that can be shared, which an embedded DuckDB file cannot",
          path, holder));
    }
    return Error(fmt::format("cannot open the DuckDB warehouse '{}': {}", path, msg));
  }
  return DuckDbWarehouse::OpenSession(std::shared_ptr<db::Database>(std::move(*db)));
}

}  // namespace derived
