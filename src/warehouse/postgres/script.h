// `derived query` on PostgreSQL (Warehouse::OpenScript). The script is split at its
// top-level semicolons by PostgreSQL's lexical rules (sql/text.h); each piece is sent as
// one statement through the extended protocol, which refuses a piece holding two.
// Without --write, every statement must be, before any runs: a query that Derived's
// parser checks to be exactly one SELECT calling no refused function (sql/embed.h), an
// EXPLAIN [ANALYZE] of one, or SHOW; the script runs in a READ ONLY transaction that is
// rolled back, so the server refuses any write the checks missed.
// Results stream a chunk of rows at a time. Values: booleans, integers, floating point
// (NaN and infinities too) and numerics keep their types, every digit of a numeric kept;
// timestamps are ISO-8601 for JSON ("Z" for timestamptz, sessions run in UTC); arrays,
// JSON, composites, ranges and everything else are the server's text.
#pragma once

#include <functional>
#include <string_view>

#include "warehouse/postgres/pq.h"
#include "warehouse/warehouse.h"

namespace derived {

struct PostgresScriptSession {
  pg::Connection* conn = nullptr;  // not owned; runs nothing else while the script lives
  // Checks that a query is one SELECT Derived may run (Warehouse::CheckQuery).
  std::function<Status(std::string_view)> check_select;
  std::function<Status()> begin_read_only;  // BEGIN ... READ ONLY
  std::function<void()> rollback;           // ends it
};

Result<OpenedScript> OpenPostgresScript(const PostgresScriptSession& session, std::string_view sql,
                                        ScriptAccess access, TimeStyle style);

}  // namespace derived
