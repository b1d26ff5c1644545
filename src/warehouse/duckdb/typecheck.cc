#include "warehouse/duckdb/typecheck.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/strings.h"

namespace derived {
namespace {

// What Embedding::Describe() puts before the query.
constexpr std::string_view kDescribe = "DESCRIBE\n";

// An engine error as the user reads it, and the byte offset in the statement it points at.
struct EngineError {
  std::string message;
  int64_t position = -1;
};

// The check connection reports errors as JSON (errors_as_json), so the position of a
// binder error comes as a number, not as an excerpt to be parsed back. Some errors still
// arrive prefixed ("Parser Error: {...}") or as plain text; those pass through.
EngineError DecodeEngineError(const std::string& raw) {
  size_t brace = raw.find('{');
  if (brace == std::string::npos) return {raw, -1};
  nlohmann::json doc = nlohmann::json::parse(raw.substr(brace), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("exception_message")) return {raw, -1};
  EngineError e;
  std::string type = doc.value("exception_type", "");
  e.message = (type.empty() ? "" : type + " Error: ") + doc.value("exception_message", "");
  if (auto it = doc.find("position"); it != doc.end()) {
    if (it->is_string()) e.position = std::strtoll(it->get<std::string>().c_str(), nullptr, 10);
    if (it->is_number_integer()) e.position = it->get<int64_t>();
  }
  return e;
}

}  // namespace

Result<std::unique_ptr<TypeChecker>> DuckDbTypeChecker::Create(const db::FileAccess& files) {
  std::unique_ptr<DuckDbTypeChecker> tc(new DuckDbTypeChecker());
  // One thread: binding is single-threaded work and we run one checker per core ourselves.
  // Locked down like every database (a type-check reaches no network); errors as JSON on
  // the one connection, set before the lock.
  db::OpenOptions options;
  options.config = {{"threads", "1"}};
  options.files = files;
  options.session = {{"errors_as_json", "true"}};
  auto db = db::Database::Open(":memory:", options);
  if (!db.ok()) return db.error();
  tc->db_ = std::move(*db);
  auto conn = db::Connection::Open(*tc->db_);
  if (!conn.ok()) return conn.error();
  tc->conn_ = std::move(*conn);
  auto parser = sql::SqlParser::Create(tc->conn_.get());
  if (!parser.ok()) return parser.error();
  tc->parser_ = std::move(*parser);
  return std::unique_ptr<TypeChecker>(std::move(tc));
}

Status DuckDbTypeChecker::Declare(const std::string& dataset, const std::string& table,
                            const std::vector<OutputColumn>& columns) {
  std::string sql;
  if (schemas_.insert(dataset).second) {
    sql += "CREATE SCHEMA IF NOT EXISTS " + db::QuoteIdentifier(dataset) + ";";
  }
  sql += "CREATE OR REPLACE TABLE " + db::QuoteIdentifier(dataset) + "." + db::QuoteIdentifier(table) + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) sql += ", ";
    sql += db::QuoteIdentifier(columns[i].name) + " " + columns[i].type;
  }
  if (columns.empty()) sql += "\"_derived_no_columns\" INTEGER";
  sql += ")";
  if (auto st = conn_->Execute(sql); !st.ok()) return Error(DecodeEngineError(st.error().message).message);
  return Status::Ok();
}

BindResult DuckDbTypeChecker::Bind(const std::string& sql, const std::string& dataset) {
  BindResult out;
  if (dataset != search_path_) {
    std::string set;
    if (schemas_.insert(dataset).second) set += "CREATE SCHEMA IF NOT EXISTS " + db::QuoteIdentifier(dataset) + ";";
    set += "SET search_path = " + db::QuoteLiteral(dataset);
    if (auto st = conn_->Execute(set); !st.ok()) {
      out.ok = false;
      out.error = DecodeEngineError(st.error().message).message;
      return out;
    }
    search_path_ = dataset;
  }
  auto fail = [&](const std::string& message) {
    out.ok = false;
    out.error = message;
    return out;
  };
  auto checked = parser_->CheckSelect(sql);
  if (!checked.ok()) return fail(checked.error().message);
  const sql::Embedding describe = sql::Embedding::Describe();
  if (auto st = parser_->CheckEmbedded(describe.Select(checked->text()), *checked, describe); !st.ok()) {
    return fail(st.error().message);
  }
  auto rows = conn_->QueryOne(describe.Statement(checked->text()), describe.type());
  if (!rows.ok()) {
    EngineError e = DecodeEngineError(rows.error().message);
    fail(e.message);
    // The position counts from the statement's start: DESCRIBE, a newline, then the text
    // checked (`sql` without its leading space).
    int64_t start = static_cast<int64_t>(sql.find(checked->text()));
    int64_t in_sql = e.position - static_cast<int64_t>(kDescribe.size()) + start;
    if (e.position >= 0 && start >= 0 && in_sql >= 0 && in_sql <= static_cast<int64_t>(sql.size())) {
      out.error_offset = in_sql;
    }
    return out;
  }
  for (const auto& row : rows->rows) {
    out.columns.push_back({ToLower(row[0].value_or("")), row[1].value_or("")});
  }
  return out;
}

Result<std::string> DuckDbTypeChecker::CanonicalType(const std::string& type) {
  auto it = canonical_.find(type);
  if (it != canonical_.end()) return it->second;
  // Casting NULL makes the engine parse and resolve the type name; nothing else can run.
  Result<std::string> result = Error("");
  if (type.find(';') != std::string::npos) {
    result = Error(fmt::format("'{}' is not a type", type));
  } else if (auto st = parser_->CheckType(type); !st.ok()) {
    result = st.error();
  } else {
    auto rows = conn_->QueryOne("DESCRIBE SELECT CAST(NULL AS " + type + ") AS t", db::StatementType::kSelect);
    if (rows.ok() && rows->size() == 1 && rows->at(0, 1)) {
      result = *rows->at(0, 1);
    } else {
      result = Error(fmt::format("unknown type '{}'", type));
    }
  }
  canonical_.emplace(type, result);
  return result;
}

namespace {

// Family and width rank of a canonical type name; rank 0 = compare exactly.
std::pair<std::string, int> FamilyOf(const std::string& t) {
  static const std::map<std::string, std::pair<std::string, int>> kFamilies = {
      {"TINYINT", {"int", 1}},   {"SMALLINT", {"int", 2}},  {"INTEGER", {"int", 3}},
      {"BIGINT", {"int", 4}},    {"HUGEINT", {"int", 5}},   {"UTINYINT", {"uint", 1}},
      {"USMALLINT", {"uint", 2}}, {"UINTEGER", {"uint", 3}}, {"UBIGINT", {"uint", 4}},
      {"UHUGEINT", {"uint", 5}}, {"FLOAT", {"float", 1}},   {"DOUBLE", {"float", 2}}};
  auto it = kFamilies.find(t);
  return it == kFamilies.end() ? std::make_pair(t, 0) : it->second;
}

}  // namespace

bool DuckDbTypeChecker::TypeFits(const std::string& declared, const std::string& actual) const {
  return DuckDbTypeFits(declared, actual);
}

bool DuckDbTypeFits(const std::string& declared, const std::string& actual) {
  if (declared == actual) return true;
  auto [dfam, drank] = FamilyOf(declared);
  auto [afam, arank] = FamilyOf(actual);
  // A date is midnight of that day: date_trunc('day', ts) returns DATE, and users
  // rightly declare such columns TIMESTAMP.
  if (declared == "TIMESTAMP" && actual == "DATE") return true;
  if (drank == 0 || arank == 0) return false;
  if (dfam == afam) return drank >= arank;
  // Unsigned values fit a signed type one step wider; all integers fit a DOUBLE... not
  // losslessly for 64-bit values, so only small integers widen into floating point.
  if (dfam == "int" && afam == "uint") return drank > arank;
  if (dfam == "float" && (afam == "int" || afam == "uint")) return arank <= (drank == 2 ? 3 : 2);
  return false;
}

}  // namespace derived
