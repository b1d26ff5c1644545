#include "cli/query_output.h"

#include <cmath>
#include <ostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/text_table.h"
#include "sql/text.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

using Kind = TypedValue::Kind;

void AppendString(std::string_view s, std::string* out) {
  // Bytes that are not UTF-8 become U+FFFD rather than failing the whole result.
  *out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DoubleText(double d) { return fmt::format("{}", d); }

// Inside a list or struct, a string that could be mistaken for punctuation or NULL is
// quoted, as DuckDB does.
std::string NestedText(const TypedValue& v) {
  if (v.kind != Kind::kText) return DisplayText(v);
  const std::string& s = v.text;
  bool quote = s.empty() || std::isspace(static_cast<unsigned char>(s.front())) ||
               std::isspace(static_cast<unsigned char>(s.back())) || ToLower(s) == "null" ||
               s.find_first_of("'\",[]{}()\\") != std::string::npos;
  if (!quote) return s;
  return "'" + ReplaceAll(ReplaceAll(s, "\\", "\\\\"), "'", "\\'") + "'";
}

// Column names made unique: a repeated name gets _1, _2, ... (never another column's name).
std::vector<std::string> UniqueNames(const std::vector<std::string>& columns) {
  std::set<std::string> originals(columns.begin(), columns.end()), used;
  std::vector<std::string> out;
  for (const auto& c : columns) {
    std::string name = c;
    for (int i = 1; used.count(name); ++i) {
      name = fmt::format("{}_{}", c, i);
      if (originals.count(name)) name = c;  // taken by another column: try the next suffix
    }
    used.insert(name);
    out.push_back(name);
  }
  return out;
}

}  // namespace

void AppendJson(const TypedValue& v, std::string* out) {
  switch (v.kind) {
    case Kind::kNull: *out += "null"; return;
    case Kind::kBool: *out += v.boolean ? "true" : "false"; return;
    case Kind::kInt: *out += std::to_string(v.integer); return;
    case Kind::kUInt: *out += std::to_string(v.unsigned_integer); return;
    case Kind::kDouble:
      if (std::isnan(v.real)) {
        *out += "\"NaN\"";
      } else if (std::isinf(v.real)) {
        *out += v.real > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      } else {
        *out += DoubleText(v.real);
      }
      return;
    case Kind::kNumber: *out += v.text; return;
    case Kind::kText: AppendString(v.text, out); return;
    case Kind::kList:
      *out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) *out += ',';
        AppendJson(v.items[i], out);
      }
      *out += ']';
      return;
    case Kind::kStruct:
    case Kind::kMap: {
      bool map = v.kind == Kind::kMap;
      size_t n = map ? v.items.size() / 2 : v.items.size();
      *out += '{';
      for (size_t i = 0; i < n; ++i) {
        if (i) *out += ',';
        if (map) {
          const TypedValue& key = v.items[2 * i];
          std::string key_text;
          if (key.kind != Kind::kText) AppendJson(key, &key_text);
          AppendString(key.kind == Kind::kText ? key.text : key_text, out);
        } else {
          AppendString(v.names[i], out);
        }
        *out += ':';
        AppendJson(v.items[map ? 2 * i + 1 : i], out);
      }
      *out += '}';
      return;
    }
  }
}

std::string DisplayText(const TypedValue& v) {
  switch (v.kind) {
    case Kind::kNull: return "NULL";
    case Kind::kBool: return v.boolean ? "true" : "false";
    case Kind::kInt: return std::to_string(v.integer);
    case Kind::kUInt: return std::to_string(v.unsigned_integer);
    case Kind::kDouble: return DoubleText(v.real);
    case Kind::kNumber:
    case Kind::kText: return v.text;
    case Kind::kList: {
      std::vector<std::string> parts;
      for (const auto& item : v.items) parts.push_back(NestedText(item));
      return "[" + Join(parts, ", ") + "]";
    }
    case Kind::kStruct: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < v.items.size(); ++i) {
        parts.push_back("'" + ReplaceAll(v.names[i], "'", "\\'") + "': " + NestedText(v.items[i]));
      }
      return "{" + Join(parts, ", ") + "}";
    }
    case Kind::kMap: {
      std::vector<std::string> parts;
      for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
        parts.push_back(NestedText(v.items[i]) + "=" + NestedText(v.items[i + 1]));
      }
      return "{" + Join(parts, ", ") + "}";
    }
  }
  return "";
}

derived::Status ResultPrinter::Print(size_t index, const std::string& text, TypedRows& result) {
  if (result.kind() == ResultKind::kNothing) return derived::Status::Ok();
  bool several = statements_ > 1;
  if (format_ == QueryFormat::kJson) {
    std::vector<std::string> keys;
    for (const auto& name : UniqueNames(result.columns())) {
      std::string key;
      AppendString(name, &key);
      keys.push_back(std::move(key));
    }
    while (true) {
      auto rows = result.Next();
      if (!rows.ok()) return rows.error();
      if (rows->empty()) return derived::Status::Ok();
      for (const auto& row : *rows) {
        std::string line = several ? fmt::format("{{\"statement\":{},\"row\":{{", index + 1) : "{";
        for (size_t c = 0; c < row.size(); ++c) {
          if (c) line += ',';
          line += keys[c];
          line += ':';
          AppendJson(row[c], &line);
        }
        line += several ? "}}\n" : "}\n";
        out_ << line;
      }
    }
  }
  std::vector<std::vector<std::string>> cells;
  while (true) {
    auto rows = result.Next();
    if (!rows.ok()) return rows.error();
    if (rows->empty()) break;
    for (const auto& row : *rows) {
      std::vector<std::string> line;
      for (const auto& v : row) line.push_back(DisplayText(v));
      cells.push_back(std::move(line));
    }
  }
  if (printed_++ > 0) out_ << "\n";
  if (several) {
    out_ << "-- " << index + 1 << (text.empty() ? "" : ": " + sql::ShortStatement(text, 100)) << "\n";
  }
  // A plan reads best as the engine draws it.
  if (result.columns() == std::vector<std::string>{"explain_key", "explain_value"}) {  // DuckDB
    for (const auto& line : cells) out_ << line[1] << (EndsWith(line[1], "\n") ? "" : "\n");
    return derived::Status::Ok();
  }
  if (result.columns() == std::vector<std::string>{"QUERY PLAN"}) {  // PostgreSQL
    for (const auto& line : cells) out_ << line[0] << "\n";
    return derived::Status::Ok();
  }
  PrintTextTable(out_, result.columns(), cells);
  return derived::Status::Ok();
}

}  // namespace derived::cli
