// What `derived query` runs on DuckDB without --write: statements that only read. The decision is
// made for the whole script before any statement runs, from what DuckDB's parser and
// binder say each statement is; a statement is allowed only when it is one of:
//   SELECT (also WITH, FROM-first, VALUES, TABLE, PIVOT with IN, UNPIVOT);
//   DESCRIBE, SHOW, SUMMARIZE;
//   a PRAGMA that DuckDB answers with a query (table_info, database_size, version, ...);
//   EXPLAIN [ANALYZE] of one of the above.
// Statements are first screened by their first word, so that nothing else is even bound
// (binding EXPORT creates its directory; binding some statements loads extensions).
// Reads of local files (read_csv, read_parquet, ...) are allowed where the engine may read
// (db/lockdown.h). Functions that change the database's state or run SQL given as text
// are refused, as in any user SQL (sql::IsRefusedFunction).
// The run itself is a READ ONLY transaction that is rolled back: DuckDB refuses any
// write the checks missed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/duckdb.h"
#include "util/status.h"

namespace derived {

struct ReadOnlyStatements {
  std::vector<std::unique_ptr<db::PreparedStatement>> prepared;  // every statement, unless refused
  // Why the script may not run without --write, naming the first statement that could
  // change something and saying that --write runs it.
  std::optional<std::string> refusal;
};

// Checks and binds every statement of `script` (whose connection is `conn`). An error
// when a statement does not bind (an unknown table, say).
Result<ReadOnlyStatements> PrepareReadOnly(db::Connection& conn, db::Script& script);

}  // namespace derived
