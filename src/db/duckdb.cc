#include "db/duckdb.h"

#include <cinttypes>
#include <cstring>

#include <fmt/format.h>

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

std::string TypeName(duckdb_logical_type type) {
  char* name = duckdb_logical_type_get_alias(type);
  if (!name) {
    // No alias: render the type the way DuckDB's DESCRIBE would, via its id.
    switch (duckdb_get_type_id(type)) {
      case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
      case DUCKDB_TYPE_TINYINT: return "TINYINT";
      case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
      case DUCKDB_TYPE_INTEGER: return "INTEGER";
      case DUCKDB_TYPE_BIGINT: return "BIGINT";
      case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
      case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
      case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
      case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
      case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
      case DUCKDB_TYPE_FLOAT: return "FLOAT";
      case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
      case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
      case DUCKDB_TYPE_DATE: return "DATE";
      case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
      case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
      case DUCKDB_TYPE_DECIMAL: return "DECIMAL";
      default: return "OTHER";
    }
  }
  std::string out = name;
  duckdb_free(name);
  return out;
}

// Renders one cell as text. Types outside this list are an error: callers cast in SQL.
Result<std::optional<std::string>> CellText(duckdb_vector vector, duckdb_type type, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity && !duckdb_validity_row_is_valid(validity, row)) return std::optional<std::string>();
  void* data = duckdb_vector_get_data(vector);
  switch (type) {
    case DUCKDB_TYPE_VARCHAR: {
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      return std::optional<std::string>(std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
    }
    case DUCKDB_TYPE_BOOLEAN: return std::optional<std::string>(static_cast<bool*>(data)[row] ? "true" : "false");
    case DUCKDB_TYPE_TINYINT: return std::optional<std::string>(std::to_string(static_cast<int8_t*>(data)[row]));
    case DUCKDB_TYPE_SMALLINT: return std::optional<std::string>(std::to_string(static_cast<int16_t*>(data)[row]));
    case DUCKDB_TYPE_INTEGER: return std::optional<std::string>(std::to_string(static_cast<int32_t*>(data)[row]));
    case DUCKDB_TYPE_BIGINT: return std::optional<std::string>(std::to_string(static_cast<int64_t*>(data)[row]));
    case DUCKDB_TYPE_UINTEGER: return std::optional<std::string>(std::to_string(static_cast<uint32_t*>(data)[row]));
    case DUCKDB_TYPE_UBIGINT: return std::optional<std::string>(std::to_string(static_cast<uint64_t*>(data)[row]));
    case DUCKDB_TYPE_DOUBLE: return std::optional<std::string>(fmt::format("{}", static_cast<double*>(data)[row]));
    case DUCKDB_TYPE_FLOAT: return std::optional<std::string>(fmt::format("{}", static_cast<float*>(data)[row]));
    default:
      return Error(fmt::format("cannot read a result column of DuckDB type id {}; cast it to VARCHAR in SQL",
                               static_cast<int>(type)));
  }
}

Result<Rows> ReadResult(duckdb_result* result) {
  Rows rows;
  idx_t ncols = duckdb_column_count(result);
  std::vector<duckdb_type> type_ids;
  for (idx_t c = 0; c < ncols; ++c) {
    rows.columns.emplace_back(duckdb_column_name(result, c));
    duckdb_logical_type lt = duckdb_column_logical_type(result, c);
    rows.types.push_back(TypeName(lt));
    type_ids.push_back(duckdb_get_type_id(lt));
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
        auto cell = CellText(vec, type_ids[c], r);
        if (!cell.ok()) return cell.error();
        rows.rows[base + r][c] = std::move(*cell);
      }
    }
  }
  return rows;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const std::map<std::string, std::string>& options) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) return Error("cannot create a DuckDB configuration");
  for (const auto& [key, value] : options) {
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
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() { duckdb_close(&db_); }

Result<std::unique_ptr<Connection>> Connection::Open(Database& db) {
  duckdb_connection conn = nullptr;
  if (duckdb_connect(db.handle(), &conn) == DuckDBError) return Error("cannot connect to DuckDB database");
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { duckdb_disconnect(&conn_); }

Status Connection::Execute(std::string_view sql) {
  ResultHandle result;
  std::string text(sql);
  if (duckdb_query(conn_, text.c_str(), result.get()) == DuckDBError) {
    return Error(duckdb_result_error(result.get()));
  }
  return Status::Ok();
}

Result<Rows> Connection::Query(std::string_view sql) {
  ResultHandle result;
  std::string text(sql);
  if (duckdb_query(conn_, text.c_str(), result.get()) == DuckDBError) {
    return Error(duckdb_result_error(result.get()));
  }
  return ReadResult(result.get());
}

Result<std::unique_ptr<PreparedStatement>> Connection::Prepare(std::string_view sql) {
  duckdb_prepared_statement stmt = nullptr;
  std::string text(sql);
  duckdb_state state = duckdb_prepare(conn_, text.c_str(), &stmt);
  std::unique_ptr<PreparedStatement> owned(new PreparedStatement(stmt));
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

Result<Rows> PreparedStatement::Execute() {
  ResultHandle result;
  if (duckdb_execute_prepared(stmt_, result.get()) == DuckDBError) {
    return Error(duckdb_result_error(result.get()));
  }
  return ReadResult(result.get());
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace derived::db
