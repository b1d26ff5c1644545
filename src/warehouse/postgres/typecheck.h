// The type-check on PostgreSQL (compile/typecheck.h): every query is bound by the server
// that will run it, so a DuckDB-only function or GROUP BY ALL in a PostgreSQL project is
// an error at validate.
//
// Binding happens in one transaction that is never committed. Relations the project
// reads that exist in the warehouse are bound as they are there; those that do not exist
// yet (a new table, a source not loaded here) are created empty inside that transaction,
// so nothing is left behind and no production table is locked beyond a read (one that a
// build in another session creates meanwhile is bound as that build made it). A relation
// that exists with other columns than the project now gives it (a changed definition,
// rebuilt on the next run) is shadowed for each bind that names it: renamed out of the
// way and made empty with the project's columns under a savepoint that is rolled back
// straight after, so its exclusive lock lasts one bind (and is waited for at most
// 500 ms). When it cannot be (a longer lock, another owner), queries reading it are bound
// against what is there, and a bind that fails says so.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "compile/typecheck.h"
#include "warehouse/postgres/pq.h"

namespace derived {

// PostgreSQL's names: the same type, or a wider one of the same family (smallint <
// integer < bigint < numeric; real < double precision; any text type into text or an
// unbounded character varying; a date into a timestamp).
bool PostgresTypeFits(const std::string& declared, const std::string& actual);

// Connects with `options` (PostgresConnectOptions) and opens the check transaction.
Result<std::unique_ptr<TypeChecker>> CreatePostgresTypeChecker(const pg::ConnectOptions& options);

}  // namespace derived
