#include "sql/tree.h"

#include <simdjson.h>

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

#include "sql/embed.h"
#include "util/strings.h"

namespace derived::sql {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Strings length-prefixed, so that no two trees write the same text.
void AppendString(std::string_view s, std::string* out) {
  *out += std::to_string(s.size());
  *out += ':';
  *out += s;
}

void AppendCanonical(const element& e, std::string* out) {
  switch (e.type()) {
    case element_type::OBJECT:
      *out += '{';
      for (auto field : object(e)) {
        if (field.key == "query_location") continue;  // where the text sits, not what it says
        AppendString(field.key, out);
        AppendCanonical(field.value, out);
      }
      *out += '}';
      return;
    case element_type::ARRAY:
      *out += '[';
      for (element child : array(e)) AppendCanonical(child, out);
      *out += ']';
      return;
    case element_type::STRING: {
      std::string_view s;
      if (e.get(s) != simdjson::SUCCESS) s = {};
      *out += 's';
      AppendString(s, out);
      return;
    }
    case element_type::INT64: *out += fmt::format("i{};", int64_t(e)); return;
    case element_type::UINT64: *out += fmt::format("u{};", uint64_t(e)); return;
    case element_type::DOUBLE: *out += fmt::format("d{};", double(e)); return;
    case element_type::BOOL: *out += bool(e) ? "T" : "F"; return;
    case element_type::NULL_VALUE: *out += 'N'; return;
  }
}

std::string_view StringField(const object& obj, std::string_view key) {
  std::string_view v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS) return {};
  return v;
}

void FindEmbedded(const element& e, std::string_view alias, std::vector<element>* found) {
  if (e.is_array()) {
    for (element child : array(e)) FindEmbedded(child, alias, found);
    return;
  }
  if (!e.is_object()) return;
  object obj(e);
  std::string_view type = StringField(obj, "type");
  element node;
  if (!alias.empty() && type == "SUBQUERY" && StringField(obj, "alias") == alias &&
      obj.at_pointer("/subquery/node").get(node) == simdjson::SUCCESS) {
    found->push_back(node);
    return;
  }
  if (alias.empty() && type == "SHOW_REF" && obj.at_key("query").get(node) == simdjson::SUCCESS) {
    found->push_back(node);
    return;
  }
  for (auto field : obj) FindEmbedded(field.value, alias, found);
}

}  // namespace

bool IsRefusedFunction(std::string_view name) {
  static const std::set<std::string, std::less<>> kRefused = {
      // DuckDB
      "query", "query_table", "checkpoint", "force_checkpoint", "enable_logging", "disable_logging",
      "truncate_duckdb_logs",
      // PostgreSQL: SQL as text
      "ts_stat", "ts_rewrite",
      // PostgreSQL: session and database state
      "set_config", "setval", "pg_notify", "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf",
      "pg_rotate_logfile", "pg_switch_wal", "pg_promote", "pg_log_backend_memory_contexts",
      "pg_import_system_collations", "pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
      "pg_stat_reset_single_function_counters", "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
      "pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup",
      "pg_stat_file"};
  // Families: advisory locks, server files, large objects, replication, dblink.
  // The *_to_xml family runs SQL given as text (query_, cursor_) or reads tables named in
  // text, out of lineage's sight (table_, schema_, database_).
  static const char* const kRefusedPrefixes[] = {
      "pg_advisory_", "pg_try_advisory_", "pg_read_", "pg_ls_",       "pg_file_",       "lo_",
      "pg_create_",   "pg_drop_",         "pg_copy_", "pg_replication_", "pg_logical_", "dblink",
      "pg_wal_replay_", "query_to_xml",   "cursor_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml"};
  if (kRefused.count(name)) return true;
  for (const char* prefix : kRefusedPrefixes) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string_view RefusalReason(std::string_view name) {
  if (name.rfind("query", 0) == 0 || name.rfind("cursor_to_", 0) == 0 || name == "ts_stat" ||
      name == "ts_rewrite" || name.rfind("dblink", 0) == 0) {
    return "runs SQL given as text, which Derived cannot check";
  }
  if (name.rfind("pg_read_", 0) == 0 || name.rfind("pg_ls_", 0) == 0 || name.rfind("pg_file_", 0) == 0 ||
      name.rfind("lo_", 0) == 0 || name == "pg_stat_file") {
    return "reaches the database server's files";
  }
  if (name.find("_to_xml") != std::string_view::npos) return "reads tables named in text, out of lineage's sight";
  return "changes the database's or the session's state";
}

std::string CanonicalTree(const element& e) {
  std::string out;
  AppendCanonical(e, &out);
  return out;
}

std::vector<element> EmbeddedQueries(const element& statement, std::string_view alias) {
  std::vector<element> found;
  FindEmbedded(statement, alias, &found);
  return found;
}

bool IsNullCastAlone(const element& statement) {
  // Every key an object may have; anything else is more than the cast.
  auto only = [](const object& obj, std::initializer_list<std::string_view> keys) {
    for (auto field : obj) {
      if (std::find(keys.begin(), keys.end(), field.key) == keys.end()) return false;
    }
    return true;
  };
  object stmt, node, from, cast, child;
  array list;
  if (statement.get(stmt) != simdjson::SUCCESS || !only(stmt, {"node"})) return false;
  if (stmt.at_key("node").get(node) != simdjson::SUCCESS ||
      !only(node, {"type", "select_list", "from_table", "aggregate_handling"}) ||
      StringField(node, "type") != "SELECT_NODE" || StringField(node, "aggregate_handling") != "STANDARD_HANDLING") {
    return false;
  }
  if (node.at_key("from_table").get(from) != simdjson::SUCCESS || !only(from, {"type"}) ||
      StringField(from, "type") != "EMPTY") {
    return false;
  }
  if (node.at_key("select_list").get(list) != simdjson::SUCCESS || list.size() != 1) return false;
  if (list.at(0).get(cast) != simdjson::SUCCESS ||
      !only(cast, {"class", "type", "query_location", "child", "cast_type"}) ||
      StringField(cast, "class") != "CAST" || StringField(cast, "type") != "OPERATOR_CAST") {
    return false;
  }
  bool is_null = false;
  return cast.at_key("child").get(child) == simdjson::SUCCESS &&
         only(child, {"class", "type", "query_location", "value"}) && StringField(child, "class") == "CONSTANT" &&
         child.at_pointer("/value/is_null").get(is_null) == simdjson::SUCCESS && is_null;
}

std::string RefusedFunctionIn(const element& e) {
  if (e.is_array()) {
    for (element child : array(e)) {
      if (std::string f = RefusedFunctionIn(child); !f.empty()) return f;
    }
    return "";
  }
  if (!e.is_object()) return "";
  object obj(e);
  if (std::string name = ToLower(StringField(obj, "function_name")); IsRefusedFunction(name)) return name;
  for (auto field : obj) {
    if (std::string f = RefusedFunctionIn(field.value); !f.empty()) return f;
  }
  return "";
}

}  // namespace derived::sql
