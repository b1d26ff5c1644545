// SQL analysis with DuckDB's own parser: json_serialize_sql() turns a query into its
// statement tree, which we walk for table references and column lineage.
#pragma once

#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sql/embed.h"
#include "sql/column_lineage.h"
#include "sql/references.h"
#include "util/status.h"

namespace simdjson::dom {
class parser;
}

namespace derived::db {  // db/duckdb.h
class Connection;
class Database;
class PreparedStatement;
}  // namespace derived::db

namespace derived::sql {

struct ParsedSql {
  std::vector<TableRef> tables;  // every base-table reference outside CTE names, in text order
};

// Parses SELECT queries. One per thread: it owns a prepared statement on `conn`.
class SqlParser {
 public:
  // REQUIRES: conn outlives the parser and is used by one thread at a time.
  static Result<std::unique_ptr<SqlParser>> Create(db::Connection* conn);
  ~SqlParser();

  // A query that is not exactly one SELECT statement, that does not parse, or that calls a
  // refused function (sql/embed.h) is an error whose location (line, column) is relative
  // to `sql` with an empty file name.
  Result<ParsedSql> Parse(std::string_view sql);

  // `sql`, a user's query, checked as Parse checks it (after surrounding space and trailing
  // semicolons are dropped: positions are relative to CheckedSelect::text()).
  Result<CheckedSelect> CheckSelect(std::string_view sql);
  // Checks that `select`, which Derived built as embedding.Select(query.text()), is one
  // SELECT holding `query` where `embedding` puts it, with the same tree it has alone
  // (sql/embed.h). An error, saying that nothing ran, otherwise.
  Status CheckEmbedded(std::string_view select, const CheckedSelect& query, const Embedding& embedding);

  // Checks that `type` (a declared column type, a user's text) is one type name and
  // nothing else: `CAST(NULL AS <type>)` must parse as that cast alone. Statements
  // Derived writes spell types as the engine does afterwards (its canonical name).
  Status CheckType(std::string_view type);

  // Every column name `sql` mentions anywhere (select list, WHERE, JOIN, GROUP BY, ...),
  // lowercased, by its last part ("o.id" -> "id"), and whether it selects * (which reads
  // every column): a superset of what it reads from any one table.
  struct ColumnNames {
    std::set<std::string> names;
    bool star = false;
  };
  Result<ColumnNames> NamedColumns(std::string_view sql);

  // Output columns of `sql` and the input columns each is computed from.
  Result<QueryLineage> Lineage(std::string_view sql, const SchemaLookup& schemas);

  // `sql` (checked as Parse checks it) reading other tables: each base-table reference
  // whose name as written, lowercased ("core.orders", or "orders" unqualified), is a key
  // of `to` reads that table instead. The statement tree is rewritten and printed back by
  // DuckDB (json_deserialize_sql), never the text: names a CTE binds, string literals,
  // comments and columns stay as they were. A renamed reference keeps its old name as its
  // alias, so columns qualified by it still resolve. The result is parsed again and
  // checked to read exactly the renamed tables; an error otherwise.
  //
  // kInPlace leaves the text as written but for the renamed references themselves, each
  // replaced where the tree says it is written (and given its alias when it had none):
  // for an engine whose own parser reads the result (PostgreSQL), which DuckDB's printer
  // does not write for (it prints count(*) as count_star(), for one).
  //
  // With `sample`, the references whose names as written are among its `tables` (renamed
  // or not) read a repeatable Bernoulli sample of that percent of their rows instead
  // (TABLESAMPLE BERNOULLI): on the reference itself in the tree, or in place as a
  // subquery that samples it, in PostgreSQL's spelling (a bare percent).
  enum class Printing { kTree, kInPlace };
  struct Sample {
    double percent = 100;  // more than 0, at most 100
    int64_t seed = 0;
    std::set<std::string> tables;  // names as written, lowercased
  };
  Result<std::string> Redirect(std::string_view sql, const std::map<std::string, TableRef>& to,
                               Printing printing = Printing::kTree, const Sample* sample = nullptr);

 private:
  SqlParser() = default;
  // Runs json_serialize_sql and hands the statement tree to `visit`.
  template <typename Visit>
  Status WithTree(std::string_view sql, Visit&& visit);

  std::unique_ptr<db::PreparedStatement> serialize_, serialize_whole_, deserialize_;
  std::unique_ptr<simdjson::dom::parser> json_;
};

// A parser with a database of its own (in memory, one thread: parsing needs no catalog),
// for code that has no session at hand. Not thread-safe.
class StandaloneParser {
 public:
  static Result<std::unique_ptr<StandaloneParser>> Open();
  ~StandaloneParser();
  SqlParser& get() { return *parser_; }

 private:
  StandaloneParser() = default;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<SqlParser> parser_;
};

}  // namespace derived::sql
