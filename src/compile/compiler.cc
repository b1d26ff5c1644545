#include "compile/compiler.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "compile/stages.h"
#include "config/loader.h"
#include "sql/parser.h"
#include "template/template.h"
#include "util/hash.h"
#include "util/parallel.h"
#include "util/strings.h"

namespace derived {

using namespace compile_internal;

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Schemas that DuckDB itself provides; references to them are not dependencies.
bool IsSystemSchema(const std::string& schema) {
  std::string s = ToLower(schema);
  return s == "information_schema" || s == "pg_catalog";
}

// One parser per worker thread, all on one in-memory database (parsing needs no catalog).
class ParserPool {
 public:
  Status Init(int workers) {
    // A database per worker: connections of one database contend on shared state.
    for (int i = 0; i < workers; ++i) {
      auto db = db::Database::Open(":memory:", {{"threads", "1"}});
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

// Parses one rendered query (or takes it from the cache) and returns its references.
Result<std::vector<sql::TableRef>> ParseRefs(const std::string& sql, sql::SqlParser& parser, CompileCache* cache) {
  std::string key;
  if (cache) {
    key = ContentHash(sql);
    if (auto hit = cache->FindParse(key)) return std::move(*hit);
  }
  auto parsed = parser.Parse(sql);
  if (!parsed.ok()) return parsed.error();
  if (cache) cache->PutParse(key, parsed->tables);
  return std::move(parsed->tables);
}

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
  return env_->Render(*tpl, MakeContext(project, d, window, initial_build));
}

Result<std::string> CompiledProject::RenderText(const CompiledTable& table, const std::string& text,
                                                const Location& where, Window window) const {
  auto tpl = tmpl::Parse({where.file, where.line > 0 ? where.line : 1, text});
  if (!tpl.ok()) return tpl.error();
  return env_->Render(**tpl, MakeContext(project, def(table), window, false));
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
  // both as an initial build and as an incremental run (they may read different tables).
  t0 = std::chrono::steady_clock::now();
  cp.env_ = std::make_unique<tmpl::Environment>();
  for (const auto& m : cp.project.macros) {
    if (auto st = cp.env_->AddMacroFile({m.file, 1, m.text}); !st.ok()) cp.diags.Add(st.error());
  }
  size_t n = cp.project.tables.size();
  cp.tables.resize(n);
  cp.templates_.resize(n);
  std::vector<Diagnostics> table_diags(n);
  ParallelFor(n, threads, [&](int, size_t i) {
    const TableDef& def = cp.project.tables[i];
    CompiledTable& t = cp.tables[i];
    t.def = i;
    t.window = DefaultWindow(def, options.now);
    auto tpl = tmpl::Parse({def.sql.file, def.sql.first_line, def.sql.text});
    if (!tpl.ok()) {
      table_diags[i].Add(tpl.error());
      return;
    }
    cp.templates_[i] = *tpl;
    auto sql = cp.env_->Render(**tpl, MakeContext(cp.project, def, t.window, false));
    auto initial = cp.env_->Render(**tpl, MakeContext(cp.project, def, t.window, true));
    if (!sql.ok()) table_diags[i].Add(sql.error());
    if (!initial.ok() && (sql.ok() || initial.error().ToString() != sql.error().ToString())) {
      table_diags[i].Add(initial.error());
    }
    if (sql.ok()) t.sql = std::move(*sql);
    if (initial.ok()) t.initial_sql = std::move(*initial);
  });
  cp.timings.render_ms = MsSince(t0);

  // 3. Parse every rendered query with DuckDB's parser and resolve its references.
  t0 = std::chrono::steady_clock::now();
  ParserPool parsers;
  if (auto st = parsers.Init(threads); !st.ok()) return st.error();
  NameIndex names(cp.project);
  ParallelFor(n, threads, [&](int worker, size_t i) {
    const TableDef& def = cp.project.tables[i];
    CompiledTable& t = cp.tables[i];
    if (table_diags[i].has_errors()) return;
    std::set<std::string> upstream;
    bool ok = true;
    for (const std::string* text : {&t.sql, &t.initial_sql}) {
      if (text == &t.initial_sql && t.initial_sql == t.sql) break;
      auto refs = ParseRefs(*text, parsers.at(worker), cache.get());
      if (!refs.ok()) {
        Location where = MapSqlLocation(def.sql, refs.error().where);
        std::string variant = text == &t.initial_sql ? " (in the initial-build SQL)" : "";
        table_diags[i].AddError(where, WithExcerpt("invalid SQL" + variant + ": " + refs.error().message, *text,
                                                   refs.error().where.line));
        ok = false;
        break;
      }
      for (const auto& ref : *refs) {
        if (IsSystemSchema(ref.schema)) continue;
        auto name = names.Resolve(ref, def.dataset);
        if (!name.ok()) {
          Location where = MapSqlLocation(def.sql, {"", LineOfOffset(*text, ref.offset), 0});
          table_diags[i].AddError(where, name.error().message);
          ok = false;
          continue;
        }
        if (*name == def.qualified_name()) {
          t.reads_itself = true;
        } else {
          upstream.insert(*name);
        }
      }
    }
    // A relationships test reads its target inside the table's transaction, so the
    // target is built first and gates the table like any input.
    for (const auto& test : def.tests) {
      if (test.kind != TestDef::Kind::kRelationships) continue;
      const std::string& target = test.to_table;
      if (target != def.qualified_name() && (cp.project.FindTable(target) || cp.project.FindSource(target))) {
        upstream.insert(target);
      }
    }
    t.upstream.assign(upstream.begin(), upstream.end());
    t.parsed = ok;
  });
  for (auto& d : table_diags) cp.diags.Merge(std::move(d));
  cp.timings.parse_ms = MsSince(t0);

  // 4. The DAG: sources and tables as nodes, references as edges.
  t0 = std::chrono::steady_clock::now();
  for (const auto& s : cp.project.sources) {
    if (!cp.graph.Find(s.qualified_name())) {
      cp.graph.AddNode({s.qualified_name(), s.dataset, s.name, NodeKind::kSource, s.tags});
    }
  }
  for (auto& t : cp.tables) {
    const TableDef& def = cp.project.tables[t.def];
    if (cp.graph.Find(def.qualified_name())) continue;  // a duplicate, already reported
    t.node = cp.graph.AddNode({def.qualified_name(), def.dataset, def.name, NodeKind::kTable, def.tags});
  }
  for (const auto& t : cp.tables) {
    if (t.node < 0) continue;
    for (const auto& up : t.upstream) {
      if (auto id = cp.graph.Find(up)) cp.graph.AddEdge(*id, t.node);
    }
  }
  std::set<int> in_cycle;
  for (const auto& cycle : cp.graph.FindCycles()) {
    const CompiledTable* first = cp.FindTable(cycle.front());
    Location where = first ? Location{cp.def(*first).file, 1, 1} : Location{};
    cp.diags.AddError(where, "dependency cycle: " + FormatCycle(cycle));
    for (const auto& name : cycle) in_cycle.insert(*cp.graph.Find(name));
  }
  std::vector<int> order;
  if (in_cycle.empty()) {
    order = *cp.graph.TopologicalOrder();
  } else {
    // Check what can be checked: everything not on or below a cycle, in a valid order.
    std::set<int> blocked = in_cycle;
    for (int id : in_cycle)
      for (int d : cp.graph.DownstreamClosure(id)) blocked.insert(d);
    Graph acyclic;
    std::vector<int> ids;
    for (int id = 0; id < static_cast<int>(cp.graph.size()); ++id) {
      if (!blocked.count(id)) ids.push_back(id);
    }
    std::map<int, int> local;
    for (int id : ids) local[id] = acyclic.AddNode(cp.graph.node(id));
    for (int id : ids)
      for (int up : cp.graph.upstream(id))
        if (local.count(up)) acyclic.AddEdge(local[up], local[id]);
    auto acyclic_order = acyclic.TopologicalOrder();  // keep the Result alive while iterating
    for (int lid : *acyclic_order) order.push_back(*cp.graph.Find(acyclic.node(lid).name));
  }
  cp.order = order;
  cp.timings.dag_ms = MsSince(t0);

  // 5. Bind every query in dependency order.
  t0 = std::chrono::steady_clock::now();
  if (options.type_check) TypeCheckTables(&cp, order, cache.get());
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
