// The demo's data model: the raw tables and the SQL that fills them.
//
// Every row is a pure function of (seed, scale, start) and its own key. Hash-based
// pseudo-randomness (never random()) makes it independent of thread scheduling, and rows of
// day d depend only on days up to d, so any partition of the period into ranges, or a
// longer --days, reproduces exactly the same rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "time/timestamp.h"

namespace discord {

struct ModelParams {
  int64_t seed = 42;
  double scale = 1.0;  // REQUIRES: > 0
  derived::Timestamp start;
  int64_t days = 28;  // REQUIRES: > 0
};

// Seconds since params.start; the rows generated are those whose time falls in [from, to).
struct Span {
  int64_t from = 0;
  int64_t to = 0;
};

struct RawTable {
  std::string_view name;         // in schema raw
  std::string_view columns;      // DDL, exactly as declared in sources/raw/<name>.yaml
  std::string_view time_column;  // empty: not an event table; rewritten whole on every run
  std::string_view select;       // the SELECT of its rows: see Select()
};

// raw.users, raw.messages, raw.voice_sessions, raw.server_joins, raw.platform_aliases.
const std::vector<RawTable>& RawTables();

// The SELECT of the table's rows whose time falls in the span, in insertion order.
// REQUIRES: SetupSql(params) has run on the same connection.
std::string Select(const RawTable& table, const ModelParams& params, const Span& span);

// Statements creating the temporary macros and tables every select above reads: the
// accounts and their active days over the whole period (small; the events are not).
std::string SetupSql(const ModelParams& params);

}  // namespace discord
