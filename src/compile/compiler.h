// Turns a project directory into a checked model: every table rendered, its SQL parsed
// by DuckDB, references resolved into a DAG, and (optionally) every query bound in
// dependency order. Problems across the whole project are collected as diagnostics.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/cache.h"
#include "config/model.h"
#include "dag/graph.h"
#include "sql/lineage.h"
#include "time/schedule.h"
#include "util/diagnostics.h"

namespace derived {

namespace tmpl {
class Environment;
class Template;
}  // namespace tmpl

struct CompileOptions {
  int threads = 0;          // 0 = one per core
  bool type_check = true;   // bind every query against the inferred catalog
  bool use_cache = true;    // read and update <project>/.derived/cache.json
  Timestamp now;            // validation renders each table for its first window, or the
                            // window ending at `now` when it has no start
};

struct CompiledTable {
  size_t def = 0;            // index in Project::tables
  int node = -1;             // id in the graph
  Window window;             // the window it was rendered for
  std::string sql;           // rendered with is_initial_build = false
  std::string initial_sql;   // rendered with is_initial_build = true
  std::vector<std::string> upstream;  // qualified names it reads (or tests against), sorted, itself excluded
  bool reads_itself = false;          // reads its own previous contents ({{ this }})
  bool parsed = false;                // rendered and parsed without error
  std::optional<std::vector<OutputColumn>> schema;  // inferred by the type-check
};

struct StageTimings {
  double load_ms = 0, render_ms = 0, parse_ms = 0, dag_ms = 0, typecheck_ms = 0;
};

class CompiledProject {
 public:
  CompiledProject();
  ~CompiledProject();
  CompiledProject(CompiledProject&&) noexcept;
  CompiledProject& operator=(CompiledProject&&) noexcept;

  Project project;
  Graph graph;
  std::vector<CompiledTable> tables;  // parallel to project.tables
  std::vector<std::optional<std::vector<OutputColumn>>> source_schemas;  // parallel to project.sources
  Diagnostics diags;
  // Graph node ids, upstream first: every node not on or below a dependency cycle.
  std::vector<int> order;
  StageTimings timings;
  size_t cache_hits = 0, cache_misses = 0;

  // nullptr when there is no such table. Accepts "dataset.table" (case-insensitive).
  const CompiledTable* FindTable(std::string_view name) const;
  const TableDef& def(const CompiledTable& t) const { return project.tables[t.def]; }

  // Renders a table's SQL for a window. Errors carry the template's file and line.
  Result<std::string> Render(const CompiledTable& table, Window window, bool initial_build) const;

  // Renders other SQL of a table (a custom data test) with the table's template context.
  Result<std::string> RenderText(const CompiledTable& table, const std::string& text, const Location& where,
                                 Window window) const;

  // Column-level lineage of a table, using upstream schemas where known.
  Result<sql::QueryLineage> Lineage(const CompiledTable& table) const;

  // Output schema of any node (source or table) by qualified name; nullptr if unknown.
  const std::vector<OutputColumn>* SchemaOf(std::string_view name) const;

 private:
  friend Result<CompiledProject> Compile(const std::string& dir, const CompileOptions& options);
  std::unique_ptr<tmpl::Environment> env_;
  std::vector<std::shared_ptr<const tmpl::Template>> templates_;  // parallel to tables
};

// Fails only when the project cannot be read at all; everything else is in `diags`.
Result<CompiledProject> Compile(const std::string& dir, const CompileOptions& options);

// The window a table is rendered for when none is asked for: its first schedule period
// from `start`, or the last complete one before `now` when it has no start.
Window DefaultWindow(const TableDef& table, Timestamp now);
// What a run for the schedule period holding `start` reads: `window` back from the
// period's end (the period itself unless the table reads a longer window).
Window WindowAt(const TableDef& table, Timestamp start);

}  // namespace derived
