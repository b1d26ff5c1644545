// `derived validate`, `derived dag`, and what they share.
#include <chrono>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "warehouse/source_check.h"
#include "cli/compile_project.h"
#include "dag/selector.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived::cli {

std::optional<CompiledProject> CompileFor(const CommonOptions& opts, bool type_check, std::ostream& err) {
  CompileOptions copts;
  copts.threads = opts.threads;
  copts.type_check = type_check;
  copts.use_cache = opts.use_cache;
  copts.now = opts.now ? *opts.now : SystemClock().Now();
  auto cp = Compile(opts.project, copts);
  if (!cp.ok()) {
    // Problems in derived.yaml arrive already formatted as diagnostics.
    const std::string& msg = cp.error().message;
    err << (msg.find(": error: ") != std::string::npos ? "" : "error: ") << cp.error().ToString() << "\n";
    return std::nullopt;
  }
  return std::move(*cp);
}

void PrintDiagnostics(const Diagnostics& diags, std::ostream& err) {
  for (const auto& d : diags.all()) err << d.ToString() << "\n";
}

namespace {

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// "a.x" for an upstream the SQL reads; "a.x (relationships test 'r')" for one a test reads.
std::string EdgeLabel(const UpstreamEdge& e) {
  switch (e.kind) {
    case EdgeKind::kSql: return e.name;
    case EdgeKind::kRelationshipsTest: return fmt::format("{} (relationships test '{}')", e.name, e.test);
    case EdgeKind::kCustomTest: return fmt::format("{} (custom test '{}')", e.name, e.test);
  }
  return e.name;
}

// Per edge, whether the reader waits for its input to be complete through each window it
// builds, or reads the input's newest version (a lookup). Text: the lookups, which are the
// exceptions, and a count of the rest.
nlohmann::json ReadinessEdges(const CompiledProject& cp, std::ostream* text) {
  nlohmann::json edges = nlohmann::json::array();
  std::vector<std::string> lookups;
  int waiting = 0;
  for (const auto& t : cp.tables) {
    const std::string reader = cp.def(t).qualified_name();
    for (const auto& e : t.edges) {
      bool waits = !cp.project.IsLookup(e.name);
      waiting += waits ? 1 : 0;
      edges.push_back({{"reader", reader}, {"input", e.name}, {"waits", waits}});
      if (!waits) lookups.push_back(fmt::format("  {} <- {}: reads its newest version (lookup), never waits for it",
                                                reader, EdgeLabel(e)));
    }
  }
  if (text) {
    *text << fmt::format("readiness: {} edge{} wait{} for the input to be complete", waiting, waiting == 1 ? "" : "s",
                         waiting == 1 ? "s" : "");
    *text << (lookups.empty() ? "\n" : fmt::format("; {} read{} a lookup:\n{}\n", lookups.size(),
                                                    lookups.size() == 1 ? "s" : "", Join(lookups, "\n")));
  }
  return edges;
}

}  // namespace

int Validate(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err) {
  auto cp = CompileFor(opts, true, err);
  if (!cp) return 1;
  // Sources that are warehouse tables must be in the warehouse, when there is one. Never
  // inside the service: it holds the warehouse itself.
  auto w0 = std::chrono::steady_clock::now();
  WarehouseCheckResult warehouse;
  if (!opts.service) {
    warehouse = CheckWarehouseSources(cp->project, &cp->diags);
    cp->diags.Sort();
  }
  double warehouse_ms = MsSince(w0);
  const auto& t = cp->timings;
  double total_ms = t.load_ms + t.render_ms + t.parse_ms + t.dag_ms + t.typecheck_ms + warehouse_ms;
  if (json) {
    nlohmann::json doc;
    doc["ok"] = !cp->diags.has_errors();
    doc["project"] = cp->project.name;
    doc["tables"] = cp->project.tables.size();
    doc["sources"] = cp->project.sources.size();
    doc["errors"] = cp->diags.error_count();
    doc["warnings"] = cp->diags.warning_count();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : cp->diags.all()) {
      list.push_back({{"severity", d.severity == Severity::kError ? "error" : "warning"},
                      {"file", d.where.file},
                      {"line", d.where.line},
                      {"column", d.where.column},
                      {"message", d.message}});
    }
    doc["diagnostics"] = std::move(list);
    doc["warehouse_sources"] = {{"checked", warehouse.outcome == WarehouseCheck::kChecked},
                                {"note", warehouse.note}};
    doc["timings_ms"] = {{"load", t.load_ms},           {"render", t.render_ms}, {"parse", t.parse_ms},
                         {"dag", t.dag_ms},             {"typecheck", t.typecheck_ms},
                         {"warehouse", warehouse_ms}, {"total", total_ms}};
    doc["cache"] = {{"hits", cp->cache_hits}, {"misses", cp->cache_misses}};
    doc["edges"] = ReadinessEdges(*cp, nullptr);
    out << doc.dump(2) << "\n";
    return cp->diags.has_errors() ? 1 : 0;
  }
  PrintDiagnostics(cp->diags, err);
  if (!warehouse.note.empty()) err << "note: " << warehouse.note << "\n";
  std::string what = fmt::format("{} tables and {} sources", cp->project.tables.size(), cp->project.sources.size());
  if (cp->diags.has_errors()) {
    err << fmt::format("{} error{}, {} warning{} in {} ({:.2f} s)\n", cp->diags.error_count(),
                       cp->diags.error_count() == 1 ? "" : "s", cp->diags.warning_count(),
                       cp->diags.warning_count() == 1 ? "" : "s", what, total_ms / 1000);
    return 1;
  }
  out << fmt::format("ok: {} are valid{} ({:.2f} s)\n", what,
                     cp->diags.warning_count() ? fmt::format(", {} warnings", cp->diags.warning_count()) : "",
                     total_ms / 1000);
  ReadinessEdges(*cp, &out);
  return 0;
}

int Dag(const CommonOptions& opts, const std::string& select, DagFormat format, std::ostream& out,
        std::ostream& err) {
  auto cp = CompileFor(opts, false, err);
  if (!cp) return 1;
  PrintDiagnostics(cp->diags, err);
  const Graph& g = cp->graph;
  std::vector<int> ids;
  if (!select.empty()) {
    auto sel = Select(g, select);
    if (!sel.ok()) {
      err << "error: --select: " << sel.error().message << "\n";
      return 2;
    }
    ids = *sel;
  } else {
    auto order = g.TopologicalOrder();
    ids = order.ok() ? *order : g.IdsByName();
  }
  std::set<int> chosen(ids.begin(), ids.end());
  auto names_of = [&](const std::vector<int>& v) {
    std::vector<std::string> names;
    for (int id : v) names.push_back(g.node(id).name);
    return names;
  };
  if (format == DagFormat::kJson) {
    nlohmann::json arr = nlohmann::json::array();
    for (int id : ids) {
      const Node& n = g.node(id);
      nlohmann::json o = {{"name", n.name},
                          {"kind", n.kind == NodeKind::kSource ? "source" : "table"},
                          {"upstream", names_of(g.upstream(id))},
                          {"downstream", names_of(g.downstream(id))},
                          {"tags", n.tags}};
      if (const CompiledTable* t = cp->FindTable(n.name)) {
        const TableDef& d = cp->def(*t);
        o["file"] = d.file;
        o["schedule"] = std::string(ScheduleName(d.schedule));
        o["strategy"] = std::string(StrategyName(d.strategy));
        // Why each upstream is one: the SQL names it, or only a test reads it.
        nlohmann::json edges = nlohmann::json::array();
        for (const auto& e : t->edges) {
          Location where = e.where();
          nlohmann::json edge = {{"name", e.name},
                                 {"kind", std::string(EdgeKindName(e.kind))},
                                 {"file", where.file},
                                 {"line", where.line},
                                 {"column", where.column}};
          if (!e.test.empty()) edge["test"] = e.test;
          edges.push_back(std::move(edge));
        }
        o["upstream_edges"] = std::move(edges);
      } else if (const SourceDef* s = cp->project.FindSource(n.name)) {
        o["file"] = s->file;
      }
      arr.push_back(std::move(o));
    }
    out << arr.dump(2) << "\n";
  } else if (format == DagFormat::kDot) {
    out << "digraph derived {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
    for (int id : ids) {
      const Node& n = g.node(id);
      out << fmt::format("  \"{}\" [shape={}];\n", n.name, n.kind == NodeKind::kSource ? "cylinder" : "box");
    }
    // An edge only a test makes is dashed and labelled with the test.
    for (int id : ids) {
      for (int down : g.downstream(id)) {
        if (!chosen.count(down)) continue;
        const CompiledTable* t = cp->FindTable(g.node(down).name);
        const UpstreamEdge* e = t ? CompiledProject::EdgeOf(*t, g.node(id).name) : nullptr;
        std::string attrs;
        if (e && e->kind != EdgeKind::kSql) {
          attrs = fmt::format(" [style=dashed, label=\"{} test '{}'\"]",
                              e->kind == EdgeKind::kRelationshipsTest ? "relationships" : "custom", e->test);
        }
        out << fmt::format("  \"{}\" -> \"{}\"{};\n", g.node(id).name, g.node(down).name, attrs);
      }
    }
    out << "}\n";
  } else {
    size_t width = 0;
    for (int id : ids) width = std::max(width, g.node(id).name.size());
    for (int id : ids) {
      const Node& n = g.node(id);
      std::string kind = "source";
      std::vector<std::string> ups_shown = names_of(g.upstream(id));
      if (const CompiledTable* t = cp->FindTable(n.name)) {
        const TableDef& d = cp->def(*t);
        kind = fmt::format("{} {}", ScheduleName(d.schedule), StrategyName(d.strategy));
        for (auto& up : ups_shown) {
          if (const UpstreamEdge* e = CompiledProject::EdgeOf(*t, up)) up = EdgeLabel(*e);
        }
      }
      std::string ups = ups_shown.empty() ? "" : "  <- " + Join(ups_shown, ", ");
      out << fmt::format("{:<{}}  {:<15}{}\n", n.name, width, kind, ups);
    }
  }
  return cp->diags.has_errors() ? 1 : 0;
}

}  // namespace derived::cli
