#include "sql/parser.h"

#include <simdjson.h>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived::sql {
namespace {

// Keep the tree small: defaults and empty fields add nothing we read.
constexpr const char* kSerializeSql =
    "SELECT json_serialize_sql($1::VARCHAR, skip_empty := true, skip_null := true, skip_default := true)";

// A location relative to the query text (file left empty for the caller to fill in).
Location TextLocation(std::string_view sql, size_t offset) {
  offset = std::min(offset, sql.size());
  size_t line_start = sql.rfind('\n', offset == 0 ? 0 : offset - 1);
  line_start = (line_start == std::string_view::npos || offset == 0) ? 0 : line_start + 1;
  return {"", LineOfOffset(sql, offset), static_cast<int>(offset - line_start) + 1};
}

}  // namespace

Result<std::unique_ptr<SqlParser>> SqlParser::Create(db::Connection* conn) {
  auto stmt = conn->Prepare(kSerializeSql);
  if (!stmt.ok()) return Error("cannot prepare the SQL parser: " + stmt.error().message);
  std::unique_ptr<SqlParser> p(new SqlParser());
  p->serialize_ = std::move(*stmt);
  p->json_ = std::make_unique<simdjson::dom::parser>();
  return p;
}

SqlParser::~SqlParser() = default;

template <typename Visit>
Status SqlParser::WithTree(std::string_view sql, Visit&& visit) {
  if (auto st = serialize_->BindText(1, sql); !st.ok()) return st;
  auto rows = serialize_->Execute();
  if (!rows.ok()) return Error("cannot parse SQL: " + rows.error().message);
  if (rows->size() != 1 || !rows->at(0, 0)) return Error("cannot parse SQL: the parser returned nothing");
  const std::string& json = *rows->at(0, 0);

  simdjson::dom::element doc;
  if (auto err = json_->parse(json).get(doc); err) {
    return Error(fmt::format("cannot read the parser's output: {}", simdjson::error_message(err)));
  }
  bool is_error = false;
  if (doc["error"].get(is_error) != simdjson::SUCCESS) is_error = false;
  if (is_error) {
    std::string_view message = "unknown parser error", type, position;
    if (doc["error_message"].get(message) != simdjson::SUCCESS) message = "unknown parser error";
    if (doc["error_type"].get(type) != simdjson::SUCCESS) type = "";
    // json_serialize_sql serializes SELECTs only; anything else (DDL, DML, COPY, PRAGMA,
    // EXPLAIN, ...) is "not implemented", wherever it is among the statements.
    if (type == "not implemented") {
      return Error("the SQL must be one SELECT statement: it holds a statement of another kind (such as DDL, "
                   "INSERT, COPY or PRAGMA)");
    }
    Location where;
    if (doc["position"].get(position) == simdjson::SUCCESS) {
      where = TextLocation(sql, static_cast<size_t>(std::strtoull(std::string(position).c_str(), nullptr, 10)));
    }
    return Error(std::string(message), where);
  }
  simdjson::dom::array statements;
  if (doc["statements"].get(statements) != simdjson::SUCCESS || statements.size() == 0) {
    return Error("the SQL is empty: expected one SELECT statement");
  }
  if (statements.size() > 1) {
    return Error(fmt::format("the SQL must be one SELECT statement, found {} statements", statements.size()));
  }
  visit(statements.at(0).value());
  return Status::Ok();
}

Result<ParsedSql> SqlParser::Parse(std::string_view sql) {
  ParsedSql out;
  Status st = WithTree(sql, [&](const simdjson::dom::element& stmt) { out.tables = ExtractTableRefs(stmt); });
  if (!st.ok()) return st.error();
  return out;
}

Result<QueryLineage> SqlParser::Lineage(std::string_view sql, const SchemaLookup& schemas) {
  QueryLineage out;
  Status st = WithTree(sql, [&](const simdjson::dom::element& stmt) { out = ComputeLineage(stmt, schemas); });
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace derived::sql
