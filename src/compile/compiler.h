// Turns a project directory into a checked model: every table rendered, its SQL parsed
// by DuckDB, references resolved into a DAG, and (optionally) every query bound in
// dependency order. Problems across the whole project are collected as diagnostics.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compile/cache.h"
#include "compile/placement.h"
#include "compile/rendered_sql.h"
#include "config/model.h"
#include "dag/graph.h"
#include "sql/column_lineage.h"
#include "template/template.h"
#include "time/schedule.h"
#include "util/diagnostics.h"

namespace derived {

struct CompileOptions {
  int threads = 0;          // 0 = one per core
  bool type_check = true;   // bind every query against the inferred catalog
  bool use_cache = true;    // read and update <project>/.derived/cache.json
  Timestamp now;            // validation renders each table for its first window, or the
                            // window ending at `now` when it has no start
};

// Why a table reads one of its upstreams.
enum class EdgeKind {
  kSql,                // its SQL names the upstream
  kRelationshipsTest,  // only a relationships test reads it
  kCustomTest,         // only a custom SQL test reads it
};
std::string_view EdgeKindName(EdgeKind k);  // "sql", "relationships_test", "custom_test"

// An upstream and the reference that makes it one. Tests read their tables inside the
// table's transaction, so an upstream a test reads is built first and gates the table
// just like one its SQL reads.
struct UpstreamEdge {
  std::string name;                // the upstream, dataset.table
  EdgeKind kind = EdgeKind::kSql;  // kSql when the SQL (either rendering) reads it
  std::string test;                // test edges: the test's name
  // The reference in its template (line with first_line applied, byte column), and where
  // that template's text sits in its file; no placement when `at` is already a place in
  // a file (a test's own location).
  Location at;
  std::shared_ptr<const TextPlacement> placement;

  // The reference in its file: for SQL, the line of the table's template holding the
  // name (the macro call's line when a macro writes it); for a test, the test in the YAML
  // file (for a custom test, the line of its SQL holding the name). Thread-safe; the
  // first call for a table may read its YAML file.
  Location where() const;
  // "tables/a/y.yaml:7: reads a.x", "tables/a/y.yaml:12: relationships test 'r' reads a.x"
  std::string Describe() const;
};

// A custom SQL test (TestDef::Kind::kSql) as the compiler checked it.
struct CompiledTest {
  size_t index = 0;  // in TableDef::tests
  std::shared_ptr<const tmpl::Template> tpl;         // null when the template did not parse
  std::shared_ptr<const TextPlacement> placement;  // where its text sits in the YAML file
  std::string sql;                                 // rendered for the table's window
  std::vector<std::string> reads;  // qualified names it reads, sorted, the table itself excluded
  bool reads_itself = false;       // reads the table ({{ this }})
  bool parsed = false;             // rendered and parsed as exactly one SELECT, names resolved
};

struct CompiledTable {
  size_t def = 0;            // index in Project::tables
  int node = -1;             // id in the graph
  Window window;             // the window it was rendered for
  std::string sql;           // rendered with is_initial_build = false
  std::string initial_sql;   // rendered with is_initial_build = true
  std::vector<std::string> upstream;  // qualified names it reads (or tests against), sorted, itself excluded
  std::vector<UpstreamEdge> edges;    // parallel to `upstream`: why and where each is read
  std::vector<CompiledTest> custom_tests;
  // Where the SQL template's text sits in its file (checked against the YAML file only
  // when a position is first placed).
  std::shared_ptr<const TextPlacement> placement;
  bool reads_itself = false;          // reads its own previous contents ({{ this }})
  bool parsed = false;                // rendered and parsed without error
  // Where DuckDB's parser failed on it (the error is reported), and in which variant.
  std::optional<Location> unparsed_at;
  bool unparsed_initial = false;
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
  // The edge by which `table` reads `upstream`; nullptr when it does not.
  static const UpstreamEdge* EdgeOf(const CompiledTable& table, std::string_view upstream);
  const TableDef& def(const CompiledTable& t) const { return project.tables[t.def]; }

  // Renders a table's SQL for a window. Errors carry the template's file and line.
  Result<std::string> Render(const CompiledTable& table, Window window, bool initial_build) const;

  // Render, plus where each byte of the SQL came from (rendered_sql.h): for mapping an
  // error the engine reports about the SQL, at run time too, to the template's file,
  // line and column. Thread-safe like Render.
  Result<RenderedSql> RenderMapped(const CompiledTable& table, Window window, bool initial_build) const;

  // A custom SQL test of the table (REQUIRES: `test` is one of def(table).tests, of kind
  // kSql), rendered with the table's template context and mapped like RenderMapped.
  Result<RenderedSql> RenderTest(const CompiledTable& table, const TestDef& test, Window window) const;

  // Renders other SQL of a table (a custom data test) with the table's template context.
  // For a test's own `sql` and `where`, errors carry the line of its SQL in the YAML.
  Result<std::string> RenderText(const CompiledTable& table, const std::string& text, const Location& where,
                                 Window window) const;

  // Column-level lineage of a table, using upstream schemas where known.
  Result<sql::QueryLineage> Lineage(const CompiledTable& table) const;

  // Output schema of any node (source or table) by qualified name; nullptr if unknown.
  const std::vector<OutputColumn>* SchemaOf(std::string_view name) const;

  // The template globals for any SQL of a table: the project's vars, the window's bounds,
  // and hints for dbt's ref() and source() unless project macros take those names.
  tmpl::Context ContextFor(const TableDef& def, Window window, bool initial_build) const;
  // Where the text of a template (`own`) and of every project macro sits in its file.
  PlacementSet PlacementsOf(std::shared_ptr<const TextPlacement> own) const;
  // REQUIRES: made by Compile().
  const tmpl::Environment& environment() const { return *env_; }

  // Moves tables to other datasets: each key of `to` (a table, dataset.table) gets the
  // dataset it maps to, and every name of it in the project follows (the graph, each
  // table's upstreams and edges, custom tests' reads, relationships tests' targets). The
  // SQL is left as written: it names the tables where they were (a shadow environment
  // redirects what runs, shadow/environment.h). Templates still render as in the old
  // dataset but for {{ this }}. REQUIRES: every new name is free.
  void Relocate(const std::map<std::string, std::string>& to);

 private:
  friend Result<CompiledProject> Compile(const std::string& dir, const CompileOptions& options);
  std::unique_ptr<tmpl::Environment> env_;
  std::vector<std::shared_ptr<const tmpl::Template>> templates_;  // parallel to tables
  std::shared_ptr<const std::map<std::string, TextPlacement>> macro_placements_;
  std::map<std::string, tmpl::Context> dbt_hints_;  // by dataset: ref() and source()
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
