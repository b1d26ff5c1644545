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

}  // namespace derived::bench
