#include "sql/parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "db/duckdb.h"
#include "sql/tree.h"
#include "util/strings.h"

namespace derived::sql {
namespace {

// Keep the tree small: defaults and empty fields add nothing we read.
constexpr const char* kSerializeSql =
    "SELECT json_serialize_sql($1::VARCHAR, skip_empty := true, skip_null := true, skip_default := true)";
// The printer needs every field of the tree, defaults and empty ones included.
constexpr const char* kSerializeWholeSql = "SELECT json_serialize_sql($1::VARCHAR)";
constexpr const char* kDeserializeSql = "SELECT json_deserialize_sql($1::JSON)";

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
  auto whole = conn->Prepare(kSerializeWholeSql);
  if (!whole.ok()) return Error("cannot prepare the SQL parser: " + whole.error().message);
  auto back = conn->Prepare(kDeserializeSql);
  if (!back.ok()) return Error("cannot prepare the SQL printer: " + back.error().message);
  std::unique_ptr<SqlParser> p(new SqlParser());
  p->serialize_ = std::move(*stmt);
  p->serialize_whole_ = std::move(*whole);
  p->deserialize_ = std::move(*back);
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
  simdjson::dom::element statement = statements.at(0).value();
  if (std::string f = RefusedFunctionIn(statement); !f.empty()) {
    return Error(fmt::format("the SQL calls {}(), which Derived does not allow in a query: it {}", f,
                             RefusalReason(f)));
  }
  visit(statement);
  return Status::Ok();
}

Result<ParsedSql> SqlParser::Parse(std::string_view sql) {
  ParsedSql out;
  Status st = WithTree(sql, [&](const simdjson::dom::element& stmt) { out.tables = ExtractTableRefs(stmt); });
  if (!st.ok()) return st.error();
  return out;
}

Result<SqlParser::ColumnNames> SqlParser::NamedColumns(std::string_view sql) {
  ColumnNames out;
  Status st = WithTree(sql, [&](const simdjson::dom::element& stmt) {
    std::vector<simdjson::dom::element> pending = {stmt};
    for (size_t steps = 0; !pending.empty() && steps < 10'000'000; ++steps) {
      simdjson::dom::element e = pending.back();
      pending.pop_back();
      if (e.is_array()) {
        for (simdjson::dom::element child : e.get_array()) pending.push_back(child);
        continue;
      }
      if (!e.is_object()) continue;
      std::string_view cls, type;
      if (e["class"].get(cls) == simdjson::SUCCESS) {
        if (cls == "STAR") out.star = true;
        simdjson::dom::array names;
        // Every part: "payload.amount" may be the struct column payload's field.
        if (cls == "COLUMN_REF" && e["column_names"].get(names) == simdjson::SUCCESS) {
          for (simdjson::dom::element part : names) {
            std::string_view name;
            if (part.get(name) == simdjson::SUCCESS) out.names.insert(ToLower(name));
          }
        }
      }
      if (e["type"].get(type) == simdjson::SUCCESS && type == "JOIN") {
        std::string_view ref_type;
        // A NATURAL join reads every column both sides share: as good as *.
        if (e["ref_type"].get(ref_type) == simdjson::SUCCESS && ref_type == "NATURAL") out.star = true;
        simdjson::dom::array using_columns;
        if (e["using_columns"].get(using_columns) == simdjson::SUCCESS) {
          for (simdjson::dom::element c : using_columns) {
            std::string_view name;
            if (c.get(name) == simdjson::SUCCESS) out.names.insert(ToLower(name));
          }
        }
      }
      for (auto field : e.get_object()) pending.push_back(field.value);
    }
  });
  if (!st.ok()) return st.error();
  return out;
}

Result<QueryLineage> SqlParser::Lineage(std::string_view sql, const SchemaLookup& schemas) {
  QueryLineage out;
  Status st = WithTree(sql, [&](const simdjson::dom::element& stmt) { out = ComputeLineage(stmt, schemas); });
  if (!st.ok()) return st.error();
  return out;
}

Result<CheckedSelect> SqlParser::CheckSelect(std::string_view sql) {
  std::string text = StripStatement(sql);
  // The engine reads text up to a NUL byte: one inside would hide what follows it.
  if (text.find('\0') != std::string::npos) return Error("the SQL holds a NUL byte");
  std::string tree;
  Status st = WithTree(text, [&](const simdjson::dom::element& stmt) {
    simdjson::dom::element node;
    if (stmt["node"].get(node) == simdjson::SUCCESS) tree = CanonicalTree(node);
  });
  if (!st.ok()) return st.error();
  if (tree.empty()) return Error("the SQL must be one SELECT statement");
  return CheckedSelect(std::move(text), std::move(tree));
}

Status SqlParser::CheckEmbedded(std::string_view select, const CheckedSelect& query, const Embedding& embedding) {
  auto refuse = [](const std::string& why) {
    return Error("refusing to run a statement built around the query (nothing ran): " + why);
  };
  if (embedding.kind() == Embedding::Kind::kAlone) {
    return select == query.text() ? Status::Ok() : refuse("it is not the query that was checked");
  }
  size_t matches = 0;
  bool same = false;
  Status st = WithTree(select, [&](const simdjson::dom::element& stmt) {
    std::vector<simdjson::dom::element> found = EmbeddedQueries(stmt, embedding.alias());
    matches = found.size();
    same = matches == 1 && CanonicalTree(found[0]) == query.tree();
  });
  if (!st.ok()) return refuse(st.error().message);
  if (matches != 1) return refuse(fmt::format("it holds {} queries where one was put", matches));
  if (!same) return refuse("the query does not read the same there as it does alone");
  return Status::Ok();
}

namespace {

// Where the name of a table written at `at` ends: one to three identifiers (plain, or
// double-quoted with "" for a quote) joined by dots, with space allowed around the dots.
// nullopt when the text there is not such a name.
struct WrittenName {
  size_t end = 0;         // just past the name
  size_t last_start = 0;  // where its last part (the table's own name) begins
};
std::optional<WrittenName> NameEnd(std::string_view text, size_t at) {
  auto plain_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); };
  auto plain = [&](char c) { return plain_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$'; };
  size_t i = at;
  for (int part = 0; part < 3; ++part) {
    if (i >= text.size()) return std::nullopt;
    const size_t part_start = i;
    if (text[i] == '"') {
      for (++i;; ++i) {
        if (i >= text.size()) return std::nullopt;
        if (text[i] != '"') continue;
        if (i + 1 < text.size() && text[i + 1] == '"') {
          ++i;
          continue;
        }
        ++i;
        break;
      }
    } else if (plain_start(text[i])) {
      while (i < text.size() && plain(text[i])) ++i;
    } else {
      return std::nullopt;
    }
    size_t j = i;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (part == 2 || j >= text.size() || text[j] != '.') return WrittenName{i, part_start};
    ++j;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    i = j;
  }
  return std::nullopt;
}

std::string QuotedName(const TableRef& r) {
  auto q = [](const std::string& id) {
    std::string out = "\"";
    for (char c : id) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out;
  if (!r.catalog.empty()) out += q(r.catalog) + ".";
  if (!r.schema.empty()) out += q(r.schema) + ".";
  return out + q(r.table);
}

}  // namespace

Result<std::string> SqlParser::Redirect(std::string_view sql, const std::map<std::string, TableRef>& to,
                                        Printing printing, const Sample* sample) {
  if (sample && !(sample->percent > 0 && sample->percent <= 100)) {
    return Error(fmt::format("a sample of {}% is not between 0 (excluded) and 100", sample->percent));
  }
  // DuckDB reads a bare number as rows, PostgreSQL only takes a percent.
  const std::string sampling =
      !sample ? ""
      : printing == Printing::kTree
          ? fmt::format("TABLESAMPLE BERNOULLI ({} PERCENT) REPEATABLE ({})", sample->percent, sample->seed)
          : fmt::format("TABLESAMPLE BERNOULLI ({}) REPEATABLE ({})", sample->percent, sample->seed);
  std::vector<TableRef> refs;
  const std::string text = StripStatement(sql);
  Status st = WithTree(text, [&](const simdjson::dom::element& stmt) { refs = ExtractTableRefs(stmt); });
  if (!st.ok()) return st.error();
  // The references to rename, by where they are written: ExtractTableRefs has already told
  // tables from CTE names, so the rewrite below only has to find the same nodes.
  struct Rename {
    const TableRef* from = nullptr;
    const TableRef* to = nullptr;  // nullptr: keeps its name (only sampled)
    bool sampled = false;
    std::string alias;  // the old name when the reference had no alias (kInPlace adds it)
    bool found = false;
  };
  std::map<size_t, Rename> renamed;
  std::vector<std::string> expected;
  for (const auto& r : refs) {
    const std::string written = ToLower(r.ToString());
    auto it = to.find(written);
    bool sampled = sample && sample->tables.count(written) > 0;
    expected.push_back(it == to.end() ? written : ToLower(it->second.ToString()));
    if (it == to.end() && !sampled) continue;
    if (r.offset == 0 ||
        !renamed.emplace(r.offset, Rename{&r, it == to.end() ? nullptr : &it->second, sampled, "", false}).second) {
      return Error(fmt::format("cannot tell where the reference to {} is in the query", r.ToString()));
    }
  }
  if (renamed.empty()) return text;
  // A sample as the tree writes it, taken from the parse of one.
  nlohmann::ordered_json sample_tree;
  if (sample && printing == Printing::kTree) {
    if (auto b = serialize_whole_->BindText(1, "SELECT * FROM t " + sampling); !b.ok()) return b.error();
    auto parsed = serialize_whole_->Execute();
    if (!parsed.ok() || parsed->size() != 1 || !parsed->at(0, 0)) return Error("cannot parse the sample clause");
    auto j = nlohmann::ordered_json::parse(*parsed->at(0, 0), nullptr, false);
    if (j.is_discarded() || !j.contains("statements")) return Error("cannot read the sample clause's tree");
    sample_tree = j["statements"][0]["node"]["from_table"]["sample"];
    if (!sample_tree.is_object()) return Error("the sample clause has no tree");
  }
  if (auto b = serialize_whole_->BindText(1, text); !b.ok()) return b.error();
  auto whole = serialize_whole_->Execute();
  if (!whole.ok() || whole->size() != 1 || !whole->at(0, 0)) return Error("cannot parse SQL for its rewrite");
  auto tree = nlohmann::ordered_json::parse(*whole->at(0, 0), nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded()) return Error("cannot read the parser's output");
  size_t done = 0;
  std::vector<nlohmann::ordered_json*> pending = {&tree};
  for (size_t steps = 0; !pending.empty(); ++steps) {
    if (steps > 10'000'000) return Error("the query's tree is too large to rewrite");
    nlohmann::ordered_json& node = *pending.back();
    pending.pop_back();
    if (node.is_array()) {
      for (auto& child : node) pending.push_back(&child);
      continue;
    }
    if (!node.is_object()) continue;
    auto type = node.find("type");
    auto at = node.find("query_location");
    if (type != node.end() && *type == "BASE_TABLE" && at != node.end() && at->is_number_unsigned()) {
      auto target = renamed.find(at->get<size_t>());
      if (target == renamed.end() || target->second.found) continue;
      Rename& r = target->second;
      if (node.value("alias", std::string()).empty()) r.alias = node["alias"] = node.value("table_name", std::string());
      if (r.to) {
        node["catalog_name"] = r.to->catalog;
        node["schema_name"] = r.to->schema;
        node["table_name"] = r.to->table;
      }
      if (r.sampled) node["sample"] = sample_tree;
      r.found = true;
      ++done;
      continue;
    }
    for (auto& [key, child] : node.items()) pending.push_back(&child);
  }
  if (done != renamed.size()) return Error("cannot find every reference to rename in the query's tree");
  std::string out;
  if (printing == Printing::kTree) {
    if (auto b = deserialize_->BindText(1, tree.dump()); !b.ok()) return b.error();
    auto rows = deserialize_->Execute();
    if (!rows.ok()) return Error("cannot print the rewritten query: " + rows.error().message);
    if (rows->size() != 1 || !rows->at(0, 0)) return Error("cannot print the rewritten query: the printer returned nothing");
    out = *rows->at(0, 0);
  } else {
    size_t copied = 0;
    for (const auto& [at, r] : renamed) {  // in text order
      auto end = at < copied ? std::nullopt : NameEnd(text, at);
      if (!end) return Error(fmt::format("cannot find the name {} where the parser says it is written", r.from->ToString()));
      out += text.substr(copied, at - copied);
      std::string name = r.to ? QuotedName(*r.to) : text.substr(at, end->end - at);
      out += r.sampled ? fmt::format("(SELECT * FROM {} {})", name, sampling) : name;
      // The old name as written, quoted or not, so it folds as the query's own uses do.
      if (!r.alias.empty()) out += " AS " + text.substr(end->last_start, end->end - end->last_start);
      copied = end->end;
    }
    out += text.substr(copied);
  }
  // What runs is what was meant: the new text reads the renamed tables and nothing else.
  auto again = Parse(out);
  if (!again.ok()) return Error("the rewritten query does not parse: " + again.error().message);
  std::vector<std::string> got;
  for (const auto& r : again->tables) got.push_back(ToLower(r.ToString()));
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  if (got != expected) {
    return Error(fmt::format("the rewritten query reads {} instead of {}", Join(got, ", "), Join(expected, ", ")));
  }
  return out;
}

Status SqlParser::CheckType(std::string_view type) {
  auto refuse = [&] { return Error(fmt::format("'{}' is not a type", type)); };
  if (type.find('\0') != std::string_view::npos || Trim(type).empty()) return refuse();
  bool one_cast = false;
  Status st = WithTree("SELECT CAST(NULL AS " + std::string(type) + ")", [&](const simdjson::dom::element& stmt) {
    one_cast = IsNullCastAlone(stmt);
  });
  if (!st.ok() || !one_cast) return refuse();
  return Status::Ok();
}

Result<std::unique_ptr<StandaloneParser>> StandaloneParser::Open() {
  std::unique_ptr<StandaloneParser> p(new StandaloneParser());
  db::OpenOptions options;
  options.config = {{"threads", "1"}};
  auto db = db::Database::Open(":memory:", options);
  if (!db.ok()) return db.error();
  p->db_ = std::move(*db);
  auto conn = db::Connection::Open(*p->db_);
  if (!conn.ok()) return conn.error();
  p->conn_ = std::move(*conn);
  auto parser = SqlParser::Create(p->conn_.get());
  if (!parser.ok()) return parser.error();
  p->parser_ = std::move(*parser);
  return p;
}

StandaloneParser::~StandaloneParser() = default;

}  // namespace derived::sql
