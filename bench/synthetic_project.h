// Generates synthetic Derived projects of realistic shape for benchmarks: N tables across
// datasets, mixed schedules and strategies, fan-in up to 10, CTEs, 20-200 line SQL, a
// share of templated SQL using loops and project macros. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>

namespace derived::bench {

struct SyntheticStats {
  int tables = 0;
  int sources = 0;
  int min_sql_lines = 0, max_sql_lines = 0;
  double avg_sql_lines = 0;
  int max_fan_in = 0;
};

// Writes the project into `dir` (created; existing files are overwritten).
SyntheticStats GenerateProject(const std::string& dir, int tables, uint32_t seed = 42);

// The per-window benchmark's project in `dir` (created), on the warehouse `warehouse`
// ("{engine: ..., ...}"): raw.events (user_id, ts, amount; a marker source) and
// core.events, an hourly append table built one window at a time. Its query is either a
// row per input row (the query as cheap as the write) or, with `aggregate`, an hourly
// aggregate per user. SQL both engines run.
void WriteWindowProject(const std::string& dir, const std::string& warehouse, bool aggregate);

}  // namespace derived::bench
