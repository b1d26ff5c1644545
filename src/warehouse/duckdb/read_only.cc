#include "warehouse/duckdb/read_only.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sql/text.h"
#include "sql/embed.h"
#include "util/strings.h"

namespace derived {
namespace {

// First words of statements DuckDB parses as a query.
const std::set<std::string> kQueryWords = {"select",  "with",      "from",  "values",       "table",
                                           "describe", "show",     "summarize", "pivot",    "unpivot",
                                           "pivot_wider", "pivot_longer"};


std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "an INSERT statement", "a DROP statement"; by the first word when DuckDB has no name.
std::string KindOf(db::StatementType type, const std::string& word) {
  std::string name = type == db::StatementType::kInvalid ? Upper(word) : std::string(db::StatementTypeName(type));
  if (name.empty()) return "not a query";
  bool vowel = std::string_view("AEIOU").find(name[0]) != std::string_view::npos && !name.starts_with("USE") &&
               !name.starts_with("UNI");
  return fmt::format("{} {} statement", vowel ? "an" : "a", name);
}

struct Piece {
  size_t index = 0, count = 0;
  std::string text;
  // "statement 2 (`DROP TABLE x`)", or "`DROP TABLE x`" alone.
  std::string Name() const {
    std::string shown = text.empty() ? "" : "`" + sql::ShortStatement(text) + "`";
    if (count == 1 && !shown.empty()) return shown;
    return fmt::format("statement {}{}", index + 1, shown.empty() ? "" : " (" + shown + ")");
  }
};

// A refusal (a value) or an error (a statement that does not bind).
using Verdict = Result<std::optional<std::string>>;
const Verdict kAllowed = std::optional<std::string>();

Verdict Refuse(const Piece& s, const std::string& why) {
  return std::optional<std::string>(
      fmt::format("{} {}; nothing ran. Without --write, `derived query` only reads; --write runs the SQL in one "
                  "transaction and logs it in _derived.log",
                  s.Name(), why));
}

// The first refused function a query calls, from DuckDB's parse tree of it.
void FindRefused(const nlohmann::json& node, std::string* found) {
  if (!found->empty()) return;
  if (node.is_object()) {
    if (auto f = node.find("function_name"); f != node.end() && f->is_string()) {
      std::string name = ToLower(f->get<std::string>());
      if (sql::IsRefusedFunction(name)) {
        *found = name;
        return;
      }
    }
    for (const auto& [key, child] : node.items()) FindRefused(child, found);
  } else if (node.is_array()) {
    for (const auto& child : node) FindRefused(child, found);
  }
}

// A query (by its first word) must bind as a SELECT and call no refused function. `text`
// may hold more statements than this one (PIVOT): its functions are checked all together.
Verdict CheckQuery(db::Connection& conn, const Piece& s, db::PreparedStatement& prepared, std::string_view text) {
  if (prepared.type() != db::StatementType::kSelect) {
    std::string why = "is " + KindOf(prepared.type(), sql::FirstWord(text));
    if (prepared.type() == db::StatementType::kCreate && sql::FirstWord(text).starts_with("pivot")) {
      why += " (a PIVOT without IN (...) creates an enum type first; list the values to pivot on)";
    }
    return Refuse(s, why + ", which does more than read");
  }
  auto rows = conn.Query("SELECT json_serialize_sql(" + db::QuoteLiteral(text) + ")");
  if (!rows.ok()) return rows.error();
  auto tree = nlohmann::json::parse(rows->at(0, 0).value_or(""), nullptr, /*allow_exceptions=*/false);
  if (!tree.is_object() || tree.value("error", true)) return Refuse(s, "cannot be checked for the functions it calls");
  std::string found;
  FindRefused(tree, &found);
  if (!found.empty()) return Refuse(s, fmt::format("calls {}(), which does more than read", found));
  return kAllowed;
}

// EXPLAIN [ANALYZE] of a query: ANALYZE runs the statement, so what it explains must
// pass the same checks.
Verdict CheckExplained(db::Connection& conn, const Piece& s) {
  std::string_view explained = sql::ExplainedStatement(s.text);
  std::string word = sql::FirstWord(explained);
  if (!kQueryWords.count(word)) {
    return Refuse(s, fmt::format("explains {}, which does more than read",
                                 KindOf(db::StatementType::kInvalid, word)));
  }
  auto script = conn.Parse(explained);
  if (!script.ok() || (*script)->size() != 1 || !(*script)->text_is_whole(0)) {
    return Refuse(s, "explains something that cannot be checked");
  }
  auto prepared = (*script)->Prepare(0);
  if (!prepared.ok()) return prepared.error();
  return CheckQuery(conn, s, **prepared, explained);
}

// Piece `s`, already bound, by what its first word promised.
Verdict CheckBound(db::Connection& conn, const Piece& s, const std::string& word, db::PreparedStatement& p) {
  if (word == "explain") {
    return p.type() == db::StatementType::kExplain ? kAllowed : Refuse(s, "is not an EXPLAIN of a query");
  }
  if (word == "pragma") {
    // Read-only pragmas are answered with a query; the others set or do something.
    return p.type() == db::StatementType::kSelect
               ? kAllowed
               : Refuse(s, "is a PRAGMA that sets or does something, not one answered with a query");
  }
  return CheckQuery(conn, s, p, s.text);
}

}  // namespace

Result<ReadOnlyStatements> PrepareReadOnly(db::Connection& conn, db::Script& script) {
  ReadOnlyStatements out;
  auto refused = [&](std::optional<std::string> why) {
    out.prepared.clear();
    out.refusal = std::move(why);
    return std::move(out);
  };
  for (size_t i = 0; i < script.size(); ++i) {
    Piece s{i, script.size(), script.text(i)};
    if (s.text.empty()) {
      return refused(
          "cannot tell this SQL's statements apart in its text, so cannot check that each one only reads; nothing "
          "ran (--write runs it, and logs it in _derived.log)");
    }
    // Screened by the first word before binding: binding is not free of effects for
    // every statement (EXPORT creates its directory).
    std::string word = sql::FirstWord(s.text);
    if (!kQueryWords.count(word) && word != "explain" && word != "pragma") {
      return refused(*Refuse(s, fmt::format("is {}, which does more than read",
                                            KindOf(db::StatementType::kInvalid, word))));
    }
    if (word == "explain") {
      if (!script.text_is_whole(i)) return refused(*Refuse(s, "explains something that cannot be checked"));
      auto v = CheckExplained(conn, s);
      if (!v.ok()) return v.error();
      if (*v) return refused(*v);
    }
    auto prepared = script.Prepare(i);
    if (!prepared.ok()) return Error(fmt::format("{}: {}", s.Name(), prepared.error().message));
    auto v = CheckBound(conn, s, word, **prepared);
    if (!v.ok()) return v.error();
    if (*v) return refused(*v);
    out.prepared.push_back(std::move(*prepared));
  }
  return out;
}

}  // namespace derived
