// User SQL (a table's query, a data test, a freshness query, and the shadow and export
// queries to come) reaches the engine only through here. It is first checked by DuckDB's
// parser to be exactly one SELECT (SqlParser::CheckSelect gives a CheckedSelect, the only
// way to get one). It then runs in one of three shapes (Embedding), never pasted anywhere
// unchecked:
//  - alone: the checked text itself, as its own statement;
//  - described: DESCRIBE of it;
//  - as a subquery of a statement Derived writes: `head` + `before` + "(\n" + query +
//    "\n) AS alias" + `after`.
// Before a described or embedded statement runs, its SELECT part (all but `head`) is parsed
// again, and it must be exactly one SELECT whose tree holds, as that subquery, the user's
// query with the very tree it had alone (SqlParser::CheckEmbedded). Then the whole statement
// runs only if DuckDB reads it as exactly one statement of the expected type
// (db::Connection::QueryOne). So what executes is one statement of Derived's, and the one
// SELECT of the user's that was parsed, nothing more. (A query that parses alone has
// balanced parentheses and ends outside any string or block comment, so Derived's
// parentheses hold exactly its text; text that closed them, ended the statement or
// commented the rest out would not parse alone, or would change the tree, and is refused.)
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "sql/statement_type.h"
#include "util/status.h"

namespace derived::sql {

class SqlParser;


// True for a function user SQL may not call, though a SELECT can, on either engine: it
// runs SQL given as text, which Derived never parses (DuckDB's query and query_table;
// PostgreSQL's query_to_xml family, ts_stat, dblink), changes the session or the
// database (DuckDB's checkpoints and logging switches; set_config, which could turn
// standard_conforming_strings off or change the role, time zone or search path under
// Derived's statements; advisory locks, which Derived's own claims use; setval, NOTIFY,
// backend signals, configuration reloads, replication slots), or reaches the server's
// files (pg_read_file, pg_ls_dir, large objects). `name` is lower case.
bool IsRefusedFunction(std::string_view name);
// Why a refused function is refused, for the error ("runs SQL given as text, ...").
std::string_view RefusalReason(std::string_view name);

// A user's query that DuckDB's parser read as exactly one SELECT statement.
class CheckedSelect {
 public:
  // The text as checked: the user's, without surrounding space and trailing semicolons.
  const std::string& text() const { return text_; }
  // Its statement tree without source positions (for CheckEmbedded).
  const std::string& tree() const { return tree_; }

 private:
  friend class SqlParser;

  CheckedSelect(std::string text, std::string tree) : text_(std::move(text)), tree_(std::move(tree)) {}
  std::string text_, tree_;
};

// How a statement holds a user's query.
class Embedding {
 public:
  enum class Kind { kAlone, kDescribe, kSubquery };

  // The query, as its own statement.
  static Embedding Alone();
  // DESCRIBE of the query: its output columns, without running it.
  static Embedding Describe();
  // `head` + `before` + "(\n" + query + "\n) AS " + alias + `after`: `before`, the
  // subquery and `after` make a SELECT; `head` says what the statement does with it
  // ("INSERT INTO t (a, b) ", "CREATE TABLE t AS ", or nothing), and `type` is what the
  // whole must be. All of it Derived's own SQL, never a user's text.
  static Embedding Subquery(std::string before, std::string alias, std::string after, std::string head = "",
                            StatementType type = StatementType::kSelect);

  Kind kind() const { return kind_; }
  const std::string& alias() const { return alias_; }
  StatementType type() const { return type_; }
  // The SELECT that holds the query (the statement without `head`).
  std::string Select(std::string_view query) const;
  // The whole statement.
  std::string Statement(std::string_view query) const { return head_ + Select(query); }
  // The line of the statement on which the query begins (for mapping an engine error's
  // "LINE n" back to the query).
  int QueryLine() const;

 private:
  Embedding() = default;
  Kind kind_ = Kind::kAlone;
  std::string head_, before_, alias_, after_;
  StatementType type_ = StatementType::kSelect;
};

}  // namespace derived::sql
