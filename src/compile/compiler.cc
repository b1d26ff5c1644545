#include "compile/compiler.h"

#include <chrono>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "compile/stages.h"
#include "config/loader.h"
#include "db/duckdb.h"
#include "sql/parser.h"
#include "template/template.h"
#include "util/parallel.h"
#include "util/strings.h"

namespace derived {

using namespace compile_internal;

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// One parser per worker thread, all on one in-memory database (parsing needs no catalog).
class ParserPool {
 public:
  Status Init(int workers) {
    // A database per worker: connections of one database contend on shared state.
    for (int i = 0; i < workers; ++i) {
      db::OpenOptions options;
      options.config = {{"threads", "1"}};
      auto db = db::Database::Open(":memory:", options);
      if (!db.ok()) return db.error();
      dbs_.push_back(std::move(*db));
      auto conn = db::Connection::Open(*dbs_.back());
      if (!conn.ok()) return conn.error();
      auto parser = sql::SqlParser::Create(conn->get());
      if (!parser.ok()) return parser.error();
      conns_.push_back(std::move(*conn));
      parsers_.push_back(std::move(*parser));
    }
    return Status::Ok();
  }
  sql::SqlParser& at(int worker) { return *parsers_[static_cast<size_t>(worker)]; }

 private:
  std::vector<std::unique_ptr<db::Database>> dbs_;
  std::vector<std::unique_ptr<db::Connection>> conns_;
  std::vector<std::unique_ptr<sql::SqlParser>> parsers_;
};

}  // namespace

CompiledProject::CompiledProject() = default;
CompiledProject::~CompiledProject() = default;
CompiledProject::CompiledProject(CompiledProject&&) noexcept = default;
CompiledProject& CompiledProject::operator=(CompiledProject&&) noexcept = default;

const CompiledTable* CompiledProject::FindTable(std::string_view name) const {
  const TableDef* def = project.FindTable(ToLower(name));
  if (!def) return nullptr;
  return &tables[static_cast<size_t>(def - project.tables.data())];
}

std::string_view EdgeKindName(EdgeKind k) {
  switch (k) {
    case EdgeKind::kSql: return "sql";
    case EdgeKind::kRelationshipsTest: return "relationships_test";
    case EdgeKind::kCustomTest: return "custom_test";
  }
  return "?";
}

Location UpstreamEdge::where() const { return placement ? placement->Place(at.line, at.column) : at; }

std::string UpstreamEdge::Describe() const {
  std::string by;
  if (kind == EdgeKind::kRelationshipsTest) by = fmt::format("relationships test '{}' ", test);
  if (kind == EdgeKind::kCustomTest) by = fmt::format("custom test '{}' ", test);
  std::string at = where().ToString();
  return fmt::format("{}{}reads {}", at.empty() ? "" : at + ": ", by, name);
}

const UpstreamEdge* CompiledProject::EdgeOf(const CompiledTable& table, std::string_view upstream) {
  std::string name = ToLower(upstream);
  for (const auto& e : table.edges) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

tmpl::Context CompiledProject::ContextFor(const TableDef& d, Window window, bool initial_build) const {
  tmpl::Context ctx = MakeContext(project, d, window, initial_build);
  if (auto it = dbt_hints_.find(d.dataset); it != dbt_hints_.end()) ctx.insert(it->second.begin(), it->second.end());
  return ctx;
}

PlacementSet CompiledProject::PlacementsOf(std::shared_ptr<const TextPlacement> own) const {
  return {std::move(own), macro_placements_};
}

const std::vector<OutputColumn>* CompiledProject::SchemaOf(std::string_view name) const {
  std::string lower = ToLower(name);
  if (const CompiledTable* t = FindTable(lower)) return t->schema ? &*t->schema : nullptr;
  if (const SourceDef* s = project.FindSource(lower)) {
    const auto& schema = source_schemas[static_cast<size_t>(s - project.sources.data())];
    return schema ? &*schema : nullptr;
  }
  return nullptr;
}

Result<std::string> CompiledProject::Render(const CompiledTable& table, Window window, bool initial_build) const {
  const TableDef& d = def(table);
  const auto& tpl = templates_[table.def];
  if (!tpl) return Error("the table's SQL template did not parse", {d.sql.file, d.sql.first_line, 0});
  return env_->Render(*tpl, ContextFor(d, window, initial_build));
}

Result<RenderedSql> CompiledProject::RenderMapped(const CompiledTable& table, Window window,
                                                  bool initial_build) const {
  const TableDef& d = def(table);
  const auto& tpl = templates_[table.def];
  if (!tpl) return Error("the table's SQL template did not parse", {d.sql.file, d.sql.first_line, 0});
  tmpl::SourceMap map;
  auto sql = env_->Render(*tpl, ContextFor(d, window, initial_build), &map);
  if (!sql.ok()) return sql.error();
  return RenderedSql(std::move(*sql), std::move(map), PlacementsOf(table.placement));
}

Result<RenderedSql> CompiledProject::RenderTest(const CompiledTable& table, const TestDef& test, Window window) const {
  const TableDef& d = def(table);
  for (const auto& ct : table.custom_tests) {
    if (&d.tests[ct.index] != &test) continue;
    if (!ct.tpl) return Error(fmt::format("custom test '{}' did not parse", test.name), test.where);
    tmpl::SourceMap map;
    auto sql = env_->Render(*ct.tpl, ContextFor(d, window, false), &map);
    if (!sql.ok()) return sql.error();
    return RenderedSql(std::move(*sql), std::move(map), PlacementsOf(ct.placement));
  }
  return Error(fmt::format("'{}' is not a custom SQL test of {}", test.name, d.qualified_name()), test.where);
}

Result<std::string> CompiledProject::RenderText(const CompiledTable& table, const std::string& text,
                                                const Location& where, Window window) const {
  // A custom test's SQL: its template already parsed, with the line its SQL starts on.
  const TableDef& d = def(table);
  for (const auto& ct : table.custom_tests) {
    const TestDef& test = d.tests[ct.index];
    if (ct.tpl && test.sql == text && test.where.file == where.file && test.where.line == where.line) {
      return env_->Render(*ct.tpl, ContextFor(d, window, false));
    }
  }
  auto tpl = tmpl::Parse({where.file, where.line > 0 ? where.line : 1, text});
  if (!tpl.ok()) return tpl.error();
  return env_->Render(**tpl, ContextFor(d, window, false));
}

Window WindowAt(const TableDef& table, Timestamp start) {
  // The period holding `start`; a run for it reads `window` back from the period's end.
  Timestamp end = NextBoundary(FloorToPeriod(start, table.schedule), table.schedule);
  return WindowEndingAt(end, table.window);
}

Window DefaultWindow(const TableDef& table, Timestamp now) {
  if (table.start) return WindowAt(table, *table.start);
  Timestamp end = FloorToPeriod(now, table.schedule);
  return {Add(end, table.window, -1), end};
}

Result<CompiledProject> Compile(const std::string& dir, const CompileOptions& options) {
  CompiledProject cp;
  int threads = options.threads > 0 ? options.threads : DefaultThreads();

  // 1. Load every file.
  auto t0 = std::chrono::steady_clock::now();
  auto project = LoadProject(dir, &cp.diags, {threads});
  if (!project.ok()) return project.error();
  cp.project = std::move(*project);
  cp.timings.load_ms = MsSince(t0);

  std::unique_ptr<CompileCache> cache;
  if (options.use_cache) {
    cache = CompileCache::Load((std::filesystem::path(cp.project.root) / ".derived" / "cache.json").string());
  }

  // 2. Templates: project macros, then every table's SQL rendered for its default window,
  // both as an initial build and as an incremental run (they may read different tables),
  // each with its source map.
  t0 = std::chrono::steady_clock::now();
  cp.env_ = std::make_unique<tmpl::Environment>();
  auto macro_placements = std::make_shared<std::map<std::string, TextPlacement>>();
  for (const auto& m : cp.project.macros) {
    if (auto st = cp.env_->AddMacroFile({m.file, 1, m.text}); !st.ok()) cp.diags.Add(st.error());
    macro_placements->emplace(m.file, TextPlacement::WholeFile(m.file, m.text));
  }
  cp.macro_placements_ = std::move(macro_placements);
  // A project macro named ref or source is the user's own; it is not shadowed by a hint.
  bool hint_ref = true, hint_source = true;
  for (const auto& name : cp.env_->MacroNames()) {
    if (name == "ref") hint_ref = false;
    if (name == "source") hint_source = false;
  }
  cp.dbt_hints_ = MakeDbtHints(cp.project, hint_ref, hint_source);
  size_t n = cp.project.tables.size();
  cp.tables.resize(n);
  cp.templates_.resize(n);
  std::vector<Diagnostics> table_diags(n);
  std::vector<TableMaps> maps(n);
  ParallelFor(n, threads, [&](int, size_t i) {
    const TableDef& def = cp.project.tables[i];
    CompiledTable& t = cp.tables[i];
    t.def = i;
    t.window = DefaultWindow(def, options.now);
    t.placement = PlaceTableSql(cp.project, def);
    auto tpl = tmpl::Parse({def.sql.file, def.sql.first_line, def.sql.text});
    if (!tpl.ok()) {
      table_diags[i].Add(tpl.error());
      return;
    }
    cp.templates_[i] = *tpl;
    auto sql = cp.env_->Render(**tpl, cp.ContextFor(def, t.window, false), &maps[i].sql);
    // Most templates render the same either way: the initial build's map is made only
    // when it differs.
    auto initial = cp.env_->Render(**tpl, cp.ContextFor(def, t.window, true));
    if (initial.ok() && sql.ok() && *initial != *sql) {
      initial = cp.env_->Render(**tpl, cp.ContextFor(def, t.window, true), &maps[i].initial);
    }
    if (!sql.ok()) table_diags[i].Add(sql.error());
    if (!initial.ok() && (sql.ok() || initial.error().ToString() != sql.error().ToString())) {
      table_diags[i].Add(initial.error());
    }
    if (sql.ok()) t.sql = std::move(*sql);
    if (initial.ok()) t.initial_sql = std::move(*initial);
  });
  cp.timings.render_ms = MsSince(t0);

  // 3. Parse every rendered query (and custom test) with DuckDB's parser and resolve its
  // references into upstream edges.
  t0 = std::chrono::steady_clock::now();
  ParserPool parsers;
  if (auto st = parsers.Init(threads); !st.ok()) return st.error();
  NameIndex names(cp.project);
  ParallelFor(n, threads, [&](int worker, size_t i) {
    if (table_diags[i].has_errors()) return;
    ParseContext ctx{&cp, &names, &parsers.at(worker), cache.get()};
    ParseTable(ctx, maps[i], &cp.tables[i], &table_diags[i]);
  });
  for (auto& d : table_diags) cp.diags.Merge(std::move(d));
  CheckFreshnessQueries(cp.project, parsers.at(0), &cp.diags);
  maps.clear();
  cp.timings.parse_ms = MsSince(t0);

  // 4. The DAG: sources and tables as nodes, upstream edges as edges.
  t0 = std::chrono::steady_clock::now();
  cp.order = BuildGraph(&cp);
  cp.timings.dag_ms = MsSince(t0);

  // 5. Bind every query in dependency order.
  t0 = std::chrono::steady_clock::now();
  if (options.type_check) {
    if (auto st = TypeCheckTables(&cp, cp.order, cache.get()); !st.ok()) return st.error();
  }
  cp.timings.typecheck_ms = MsSince(t0);

  if (cache) {
    cp.cache_hits = cache->hits();
    cp.cache_misses = cache->misses();
    (void)cache->Save();  // an unwritable cache only costs speed next time
  }
  cp.diags.Sort();
  return cp;
}

}  // namespace derived
