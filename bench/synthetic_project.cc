#include "synthetic_project.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace derived::bench {
namespace {

namespace fs = std::filesystem;

// Every relation has the same shape so any table can read any other: a key, a time, a
// category and kMeasures numeric columns.
constexpr int kMeasures = 8;
constexpr int kSources = 20;
constexpr int kDatasets = 20;

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string MeasureName(int i) { return fmt::format("m{}", i); }

// One CTE reading an upstream relation within the window, one measure per line.
std::string UpstreamCte(int idx, const std::string& relation, std::mt19937& rng) {
  std::string s = fmt::format("  u{} AS (\n    SELECT\n      user_id,\n      ts,\n      cat,\n", idx);
  for (int m = 0; m < kMeasures; ++m) {
    bool transform = rng() % 3 == 0;
    std::string expr = transform ? fmt::format("coalesce({}, 0) * 1.0", MeasureName(m)) : MeasureName(m);
    s += fmt::format("      {} AS {}{}\n", expr, MeasureName(m), m + 1 < kMeasures ? "," : "");
  }
  s += fmt::format("    FROM {}\n    WHERE ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}}\n", relation);
  if (rng() % 2) s += "      AND cat IS NOT NULL\n";
  s += "  )";
  return s;
}

std::string TableSql(const std::vector<std::string>& upstream, bool templated, std::mt19937& rng) {
  std::string s = "-- generated\nWITH\n";
  for (size_t i = 0; i < upstream.size(); ++i) {
    s += UpstreamCte(static_cast<int>(i), upstream[i], rng) + ",\n";
  }
  s += "  unioned AS (\n";
  for (size_t i = 0; i < upstream.size(); ++i) {
    s += fmt::format("    {}SELECT * FROM u{}\n", i ? "UNION ALL " : "", i);
  }
  s += "  )";
  bool dedup = rng() % 3 == 0;
  if (dedup) {
    s += ",\n  deduped AS (\n    SELECT *\n    FROM unioned\n"
         "    QUALIFY row_number() OVER (PARTITION BY user_id, ts, cat ORDER BY m0 DESC) = 1\n  )";
  }
  s += "\nSELECT\n  user_id,\n  date_trunc('hour', ts) AS ts,\n  cat,\n";
  if (templated) {
    s += "  {% for m in var('measures') %}\n  {{ agg(m) }} AS {{ m }}{{ ',' if not loop.last }}\n  {% endfor %}\n";
  } else {
    for (int m = 0; m < kMeasures; ++m) {
      std::string name = MeasureName(m);
      std::string expr = rng() % 2 ? fmt::format("sum({})", name)
                                   : fmt::format("sum(CASE WHEN cat = 'c{}' THEN {} ELSE 0 END)", m, name);
      s += fmt::format("  CAST({} AS DOUBLE) AS {}{}\n", expr, name, m + 1 < kMeasures ? "," : "");
    }
  }
  s += fmt::format("FROM {}\nGROUP BY ALL\n", dedup ? "deduped" : "unioned");
  return s;
}

std::string Indent(const std::string& text) {
  std::string out = "  ";
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += "  ";
  }
  return out;
}

}  // namespace

SyntheticStats GenerateProject(const std::string& dir, int tables, uint32_t seed) {
  std::mt19937 rng(seed);
  fs::path root(dir);
  SyntheticStats stats;
  stats.min_sql_lines = 1 << 30;

  std::string measures;
  for (int m = 0; m < kMeasures; ++m) measures += fmt::format("{}{}", m ? ", " : "", MeasureName(m));
  WriteFile(root / "derived.yaml", fmt::format("name: synthetic\nvars:\n  measures: [{}]\n"
                                               "defaults:\n  start: 2024-01-01\n  owner: bench\n",
                                               measures));
  WriteFile(root / "macros" / "agg.sql",
            "{% macro agg(m) -%}\n  CAST(sum({{ m }}) AS DOUBLE)\n{%- endmacro %}\n");

  std::string columns = "  - {name: user_id, type: BIGINT}\n  - {name: ts, type: TIMESTAMP}\n"
                        "  - {name: cat, type: VARCHAR}\n";
  for (int m = 0; m < kMeasures; ++m) columns += fmt::format("  - {{name: {}, type: DOUBLE}}\n", MeasureName(m));

  std::vector<std::string> relations;
  for (int i = 0; i < kSources; ++i) {
    std::string name = fmt::format("events_{}", i);
    WriteFile(root / "sources" / "raw" / (name + ".yaml"),
              fmt::format("description: Raw events {}\ntime_column: ts\nfreshness: marker\ncolumns:\n{}", i, columns));
    relations.push_back("raw." + name);
  }
  stats.sources = kSources;

  const char* schedules[] = {"hourly", "daily", "daily", "weekly", "monthly"};
  double total_lines = 0;
  for (int i = 0; i < tables; ++i) {
    std::string dataset = fmt::format("ds{}", i % kDatasets);
    std::string name = fmt::format("t{}", i);
    // Fan-in 1..10, mostly small, drawn from recent relations so the DAG is deep.
    int fan_in = 1 + static_cast<int>(std::min<uint32_t>(9, (rng() % 10) * (rng() % 10) / 9));
    fan_in = std::min<int>(fan_in, static_cast<int>(relations.size()));
    std::vector<std::string> upstream;
    while (static_cast<int>(upstream.size()) < fan_in) {
      size_t window = std::min<size_t>(relations.size(), 200);
      std::string pick = relations[relations.size() - 1 - rng() % window];
      if (std::find(upstream.begin(), upstream.end(), pick) == upstream.end()) upstream.push_back(pick);
    }
    stats.max_fan_in = std::max(stats.max_fan_in, fan_in);
    bool templated = rng() % 10 < 3;
    std::string sql = TableSql(upstream, templated, rng);
    int lines = static_cast<int>(std::count(sql.begin(), sql.end(), '\n'));
    total_lines += lines;
    stats.min_sql_lines = std::min(stats.min_sql_lines, lines);
    stats.max_sql_lines = std::max(stats.max_sql_lines, lines);

    std::string strategy;
    std::string extra;
    switch (rng() % 10) {
      case 0: case 1: case 2: strategy = "replace"; break;
      case 3: case 4: case 5: case 6: strategy = "append"; extra = "time_column: ts\n"; break;
      default:
        strategy = "merge";
        extra = "time_column: ts\nmerge:\n  keys: [user_id, cat]\n  rules: {m0: sum, m1: max, m2: min}\n";
    }
    std::string yaml = fmt::format(
        "description: Synthetic table {} reading {} relations.\nowner: team-{}\ntags: [bench, {}]\n"
        "schedule: {}\nstrategy: {}\n{}columns:\n{}tests:\n  - not_null: [user_id]\nsql: |\n{}",
        i, fan_in, i % 7, strategy, schedules[rng() % 5], strategy, extra, columns, Indent(sql));
    WriteFile(root / "tables" / dataset / (name + ".yaml"), yaml);
    relations.push_back(dataset + "." + name);
  }
  stats.tables = tables;
  stats.avg_sql_lines = tables ? total_lines / tables : 0;
  return stats;
}

void WriteWindowProject(const std::string& dir, const std::string& warehouse, bool aggregate) {
  auto write = [&](const std::string& rel, const std::string& text) {
    fs::path path = fs::path(dir) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  };
  write("derived.yaml", "name: bench\nwarehouse: " + warehouse + "\n");
  write("sources/raw/events.yaml",
        "freshness: marker\ncolumns:\n  - {name: user_id, type: BIGINT}\n  - {name: ts, type: TIMESTAMP}\n"
        "  - {name: amount, type: FLOAT8}\n");
  std::string query = aggregate ? "SELECT user_id, date_trunc('hour', ts) AS ts, count(*) AS n, sum(amount) AS amount"
                                : "SELECT user_id, ts, amount * 2 AS amount";
  write("tables/core/events.yaml", "schedule: hourly\nstrategy: append\nstart: 2024-01-01\nbatch: 1\n"
                                   "time_column: ts\nsql: |\n  " + query +
                                       "\n  FROM raw.events\n  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}" +
                                       (aggregate ? "\n  GROUP BY 1, 2" : "") + "\n");
}

}  // namespace derived::bench
