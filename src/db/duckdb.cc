#include "db/duckdb.h"

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstring>

#include <fmt/format.h>

#include "db/value.h"
#include "util/strings.h"

namespace derived::db {
namespace {

// Owns a duckdb_result. DuckDB requires duckdb_destroy_result even when the query failed.
class ResultHandle {
 public:
  ResultHandle() { std::memset(&result_, 0, sizeof(result_)); }
  ~ResultHandle() { duckdb_destroy_result(&result_); }
  ResultHandle(const ResultHandle&) = delete;
  ResultHandle& operator=(const ResultHandle&) = delete;
  duckdb_result* get() { return &result_; }

 private:
  duckdb_result result_;
};

class ChunkHandle {
 public:
  explicit ChunkHandle(duckdb_data_chunk chunk) : chunk_(chunk) {}
  ~ChunkHandle() {
    if (chunk_) duckdb_destroy_data_chunk(&chunk_);
  }
  ChunkHandle(const ChunkHandle&) = delete;
  ChunkHandle& operator=(const ChunkHandle&) = delete;
  duckdb_data_chunk get() const { return chunk_; }

 private:
  duckdb_data_chunk chunk_;
};

// What reading a column needs besides its type id.
struct ColumnInfo {
  duckdb_type type = DUCKDB_TYPE_INVALID;
  duckdb_type decimal_internal = DUCKDB_TYPE_INVALID;
  uint8_t decimal_scale = 0;
};

std::string TimestampText(int64_t micros) {
  duckdb_timestamp_struct ts = duckdb_from_timestamp(duckdb_timestamp{micros});
  std::string out = fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", ts.date.year, ts.date.month,
                                ts.date.day, ts.time.hour, ts.time.min, ts.time.sec);
  if (ts.time.micros) out += fmt::format(".{:06d}", ts.time.micros);
  return out;
}

// Renders one cell as text. Nested types (lists, structs, maps) are an error: callers
// cast them to VARCHAR in SQL.
Result<std::optional<std::string>> CellText(duckdb_vector vector, const ColumnInfo& info, idx_t row) {
  using Text = std::optional<std::string>;
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity && !duckdb_validity_row_is_valid(validity, row)) return Text();
  void* data = duckdb_vector_get_data(vector);
  switch (info.type) {
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      return Text(std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
    }
    case DUCKDB_TYPE_BOOLEAN: return Text(static_cast<bool*>(data)[row] ? "true" : "false");
    case DUCKDB_TYPE_TINYINT: return Text(std::to_string(static_cast<int8_t*>(data)[row]));
    case DUCKDB_TYPE_SMALLINT: return Text(std::to_string(static_cast<int16_t*>(data)[row]));
    case DUCKDB_TYPE_INTEGER: return Text(std::to_string(static_cast<int32_t*>(data)[row]));
    case DUCKDB_TYPE_BIGINT: return Text(std::to_string(static_cast<int64_t*>(data)[row]));
    case DUCKDB_TYPE_UTINYINT: return Text(std::to_string(static_cast<uint8_t*>(data)[row]));
    case DUCKDB_TYPE_USMALLINT: return Text(std::to_string(static_cast<uint16_t*>(data)[row]));
    case DUCKDB_TYPE_UINTEGER: return Text(std::to_string(static_cast<uint32_t*>(data)[row]));
    case DUCKDB_TYPE_UBIGINT: return Text(std::to_string(static_cast<uint64_t*>(data)[row]));
    case DUCKDB_TYPE_HUGEINT: return Text(HugeIntText(static_cast<duckdb_hugeint*>(data)[row]));
    case DUCKDB_TYPE_UHUGEINT: return Text(UHugeIntText(static_cast<duckdb_uhugeint*>(data)[row]));
    case DUCKDB_TYPE_DOUBLE: return Text(fmt::format("{}", static_cast<double*>(data)[row]));
    case DUCKDB_TYPE_FLOAT: return Text(fmt::format("{}", static_cast<float*>(data)[row]));
    case DUCKDB_TYPE_DECIMAL: {
      std::string digits;
      switch (info.decimal_internal) {
        case DUCKDB_TYPE_SMALLINT: digits = std::to_string(static_cast<int16_t*>(data)[row]); break;
        case DUCKDB_TYPE_INTEGER: digits = std::to_string(static_cast<int32_t*>(data)[row]); break;
        case DUCKDB_TYPE_BIGINT: digits = std::to_string(static_cast<int64_t*>(data)[row]); break;
        default: digits = HugeIntText(static_cast<duckdb_hugeint*>(data)[row]); break;
      }
      return Text(DecimalText(digits, info.decimal_scale));
    }
    case DUCKDB_TYPE_DATE: {
      duckdb_date_struct d = duckdb_from_date(static_cast<duckdb_date*>(data)[row]);
      return Text(fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day));
    }
    case DUCKDB_TYPE_TIME: {
      duckdb_time_struct t = duckdb_from_time(static_cast<duckdb_time*>(data)[row]);
      std::string out = fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.min, t.sec);
      if (t.micros) out += fmt::format(".{:06d}", t.micros);
      return Text(out);
    }
    case DUCKDB_TYPE_TIMESTAMP: return Text(TimestampText(static_cast<duckdb_timestamp*>(data)[row].micros));
    case DUCKDB_TYPE_TIMESTAMP_TZ:  // stored as UTC microseconds
      return Text(TimestampText(static_cast<duckdb_timestamp*>(data)[row].micros) + "+00");
    case DUCKDB_TYPE_TIMESTAMP_S: return Text(TimestampText(static_cast<int64_t*>(data)[row] * 1000000));
    case DUCKDB_TYPE_TIMESTAMP_MS: return Text(TimestampText(static_cast<int64_t*>(data)[row] * 1000));
    case DUCKDB_TYPE_TIMESTAMP_NS: return Text(TimestampText(static_cast<int64_t*>(data)[row] / 1000));
    case DUCKDB_TYPE_INTERVAL: return Text(IntervalText(static_cast<duckdb_interval*>(data)[row]));
    case DUCKDB_TYPE_UUID: return Text(UuidText(static_cast<duckdb_hugeint*>(data)[row]));
    default:
      return Error(fmt::format("cannot read a result column of DuckDB type id {} (a nested type); cast it to VARCHAR "
                               "in SQL",
                               static_cast<int>(info.type)));
  }
}

Result<Rows> ReadResult(duckdb_result* result) {
  Rows rows;
  idx_t ncols = duckdb_column_count(result);
  std::vector<ColumnInfo> infos;
  for (idx_t c = 0; c < ncols; ++c) {
    rows.columns.emplace_back(duckdb_column_name(result, c));
    duckdb_logical_type lt = duckdb_column_logical_type(result, c);
    rows.types.push_back(TypeName(lt));
    ColumnInfo info;
    info.type = duckdb_get_type_id(lt);
    if (info.type == DUCKDB_TYPE_DECIMAL) {
      info.decimal_internal = duckdb_decimal_internal_type(lt);
      info.decimal_scale = duckdb_decimal_scale(lt);
    }
    infos.push_back(info);
    duckdb_destroy_logical_type(&lt);
  }
  while (true) {
    ChunkHandle chunk(duckdb_fetch_chunk(*result));
    if (!chunk.get()) break;
    idx_t n = duckdb_data_chunk_get_size(chunk.get());
    if (n == 0) break;
    size_t base = rows.rows.size();
    rows.rows.resize(base + n, std::vector<std::optional<std::string>>(ncols));
    for (idx_t c = 0; c < ncols; ++c) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(chunk.get(), c);
      for (idx_t r = 0; r < n; ++r) {
        auto cell = CellText(vec, infos[c], r);
        if (!cell.ok()) return cell.error();
        rows.rows[base + r][c] = std::move(*cell);
      }
    }
  }
  return rows;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const OpenOptions& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) return Error("cannot create a DuckDB configuration");
  std::map<std::string, std::string> all = options.config;
  for (const auto& [key, value] : LockdownConfig()) all[key] = value;
  for (const auto& [key, value] : all) {
    if (duckdb_set_config(config, key.c_str(), value.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return Error(fmt::format("invalid DuckDB option {}={}", key, value));
    }
  }
  duckdb_database db = nullptr;
  char* err = nullptr;
  const char* p = (path.empty() || path == ":memory:") ? nullptr : path.c_str();
  duckdb_state state = duckdb_open_ext(p, &db, config, &err);
  duckdb_destroy_config(&config);
  if (state == DuckDBError) {
    std::string msg = err ? err : "unknown error";
    if (err) duckdb_free(err);
    return Error(fmt::format("cannot open DuckDB database '{}': {}", path, msg));
  }
  std::unique_ptr<Database> out(new Database(db));
  auto setup = Connection::Open(*out);
  if (!setup.ok()) return setup.error();
  // Timestamps are UTC throughout; global, so that every session agrees (none can set it
  // once the configuration is locked).
  if (auto st = LockDown(**setup, options.files, {{"TimeZone", "UTC"}}, options.session); !st.ok()) {
    return Error(fmt::format("cannot open DuckDB database '{}': {}", path, st.error().message));
  }
  out->setup_ = std::move(*setup);
  return out;
}

Database::~Database() {
  setup_.reset();
  duckdb_close(&db_);
}

void Database::InterruptAll() {
  std::lock_guard lock(mu_);
  for (duckdb_connection c : connections_) duckdb_interrupt(c);
}

std::optional<std::string> Database::Failure() const {
  if (!failed_.load()) return std::nullopt;
  std::lock_guard lock(mu_);
  return failure_;
}

Status Database::Usable() const {
  if (auto f = Failure()) {
    return Error(fmt::format("the warehouse is closed for this process after an I/O error ({}): nothing more runs on "
                             "it; what was committed before is intact and the next run starts from there",
                             *f));
  }
  return Status::Ok();
}

void Database::Check(duckdb_result* result, std::string_view sql) {
  duckdb_error_type type = duckdb_result_error_type(result);
  const char* msg = duckdb_result_error(result);
  std::string text = msg ? msg : "";
  bool fatal = type == DUCKDB_ERROR_IO || type == DUCKDB_ERROR_FATAL || type == DUCKDB_ERROR_INTERNAL ||
               text.find("Failed to commit") != std::string::npos ||
               text.find("database has been invalidated") != std::string::npos;
  // A COMMIT that fails for any reason leaves the same doubt.
  std::string first = ToLower(Trim(sql.substr(0, std::min<size_t>(sql.size(), 16))));
  if (first.rfind("commit", 0) == 0) fatal = true;
  if (!fatal) return;
  std::lock_guard lock(mu_);
  if (failed_.load()) return;
  failure_ = Split(text, '\n')[0];
  failed_.store(true);
}

Result<std::unique_ptr<Connection>> Connection::Open(Database& db) {
  {
    std::lock_guard lock(db.mu_);
    if (db.setup_) return std::move(db.setup_);
  }
  duckdb_connection conn = nullptr;
  if (duckdb_connect(db.handle(), &conn) == DuckDBError) return Error("cannot connect to DuckDB database");
  std::lock_guard lock(db.mu_);
  db.connections_.insert(conn);
  return std::unique_ptr<Connection>(new Connection(&db, conn));
}

Connection::~Connection() {
  {
    std::lock_guard lock(db_->mu_);
    db_->connections_.erase(conn_);
  }
  duckdb_disconnect(&conn_);
}

namespace {

std::atomic<int64_t> g_statements{0};
std::atomic<int64_t> g_statement_ns{0};

// Runs one DuckDB call, counting it and its time.
template <typename Fn>
duckdb_state Timed(Fn&& fn) {
  auto start = std::chrono::steady_clock::now();
  duckdb_state st = fn();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  g_statements.fetch_add(1, std::memory_order_relaxed);
  g_statement_ns.fetch_add(ns, std::memory_order_relaxed);
  return st;
}

}  // namespace

StatementTotals Totals() {
  return {g_statements.load(std::memory_order_relaxed), g_statement_ns.load(std::memory_order_relaxed) / 1e9};
}

duckdb_state Connection::Run(std::string_view sql, duckdb_result* result) {
  std::string text(sql);
  return Timed([&] { return duckdb_query(conn_, text.c_str(), result); });
}

Status Connection::Execute(std::string_view sql) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable;
  ResultHandle result;
  if (Run(sql, result.get()) == DuckDBError) return Failed(result.get(), sql);
  return Status::Ok();
}

Result<Rows> Connection::Query(std::string_view sql) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  ResultHandle result;
  if (Run(sql, result.get()) == DuckDBError) return Failed(result.get(), sql).error();
  return ReadResult(result.get());
}

Result<std::optional<Rows>> Connection::QueryIfExists(std::string_view sql) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  ResultHandle result;
  if (Run(sql, result.get()) == DuckDBError) {
    if (duckdb_result_error_type(result.get()) == DUCKDB_ERROR_CATALOG) return std::optional<Rows>();
    return Failed(result.get(), sql).error();
  }
  auto rows = ReadResult(result.get());
  if (!rows.ok()) return rows.error();
  return std::optional<Rows>(std::move(*rows));
}

Status Connection::Failed(duckdb_result* result, std::string_view sql) {
  db_->Check(result, sql);
  return Error(duckdb_result_error(result));
}

Result<std::unique_ptr<PreparedStatement>> Connection::Prepare(std::string_view sql) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  duckdb_prepared_statement stmt = nullptr;
  std::string text(sql);
  duckdb_state state = duckdb_prepare(conn_, text.c_str(), &stmt);
  std::unique_ptr<PreparedStatement> owned(new PreparedStatement(db_, stmt));
  if (state == DuckDBError) {
    const char* err = duckdb_prepare_error(stmt);
    return Error(err ? err : "cannot prepare statement");
  }
  return owned;
}

PreparedStatement::~PreparedStatement() { duckdb_destroy_prepare(&stmt_); }

Status PreparedStatement::BindText(size_t index, std::string_view value) {
  if (duckdb_bind_varchar_length(stmt_, index, value.data(), value.size()) == DuckDBError) {
    return Error(fmt::format("cannot bind parameter {}", index));
  }
  return Status::Ok();
}

Status PreparedStatement::BindInt(size_t index, int64_t value) {
  if (duckdb_bind_int64(stmt_, index, value) == DuckDBError) return Error(fmt::format("cannot bind parameter {}", index));
  return Status::Ok();
}

Status PreparedStatement::BindBool(size_t index, bool value) {
  if (duckdb_bind_boolean(stmt_, index, value) == DuckDBError) {
    return Error(fmt::format("cannot bind parameter {}", index));
  }
  return Status::Ok();
}

Status PreparedStatement::BindNull(size_t index) {
  if (duckdb_bind_null(stmt_, index) == DuckDBError) return Error(fmt::format("cannot bind parameter {}", index));
  return Status::Ok();
}

Result<Rows> PreparedStatement::Execute() {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  ResultHandle result;
  if (Timed([&] { return duckdb_execute_prepared(stmt_, result.get()); }) == DuckDBError) {
    db_->Check(result.get(), "");
    return Error(duckdb_result_error(result.get()));
  }
  return ReadResult(result.get());
}

Result<std::unique_ptr<TypedResult>> PreparedStatement::ExecuteTyped(TimeStyle style) {
  if (auto usable = db_->Usable(); !usable.ok()) return usable.error();
  ResultHandle result;
  if (Timed([&] { return duckdb_execute_prepared(stmt_, result.get()); }) == DuckDBError) {
    db_->Check(result.get(), "");
    return Error(duckdb_result_error(result.get()));
  }
  return TypedResult::Adopt(result.get(), style);
}

}  // namespace derived::db
