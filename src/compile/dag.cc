// The DAG stage: sources and tables become nodes, upstream edges become edges, and a
// dependency cycle is reported with every edge on it and the reference that makes it.
#include <fmt/format.h>

#include <map>
#include <set>

#include "compile/stages.h"

namespace derived::compile_internal {
namespace {

// "    a.x -> a.y (tables/a/y.yaml:7: reads a.x)" for each edge of the cycle; *closing is
// where the last edge's reference is (the one that closes the cycle at its first node).
std::string DescribeCycle(const CompiledProject& cp, const std::vector<std::string>& cycle,
                          Location* closing) {
  std::string out = "dependency cycle: " + FormatCycle(cycle);
  for (size_t i = 0; i + 1 < cycle.size(); ++i) {
    const std::string& up = cycle[i];
    const std::string& down = cycle[i + 1];
    const CompiledTable* t = cp.FindTable(down);
    const UpstreamEdge* edge = t ? CompiledProject::EdgeOf(*t, up) : nullptr;
    out += fmt::format("\n    {} -> {} ({})", up, down, edge ? edge->Describe() : down + " reads " + up);
    if (edge && i + 2 == cycle.size()) *closing = edge->where();
  }
  return out;
}

}  // namespace

std::vector<int> BuildGraph(CompiledProject* cp) {
  for (const auto& s : cp->project.sources) {
    if (!cp->graph.Find(s.qualified_name())) {
      cp->graph.AddNode({s.qualified_name(), s.dataset, s.name, NodeKind::kSource, s.tags});
    }
  }
  for (auto& t : cp->tables) {
    const TableDef& def = cp->def(t);
    if (cp->graph.Find(def.qualified_name())) continue;  // a duplicate, already reported
    t.node = cp->graph.AddNode({def.qualified_name(), def.dataset, def.name, NodeKind::kTable, def.tags});
  }
  for (const auto& t : cp->tables) {
    if (t.node < 0) continue;
    for (const auto& up : t.upstream) {
      if (auto id = cp->graph.Find(up)) cp->graph.AddEdge(*id, t.node);
    }
  }
  std::set<int> in_cycle;
  for (const auto& cycle : cp->graph.FindCycles()) {
    const CompiledTable* first = cp->FindTable(cycle.front());
    Location where = first ? Location{cp->def(*first).file, 1, 1} : Location{};
    std::string message = DescribeCycle(*cp, cycle, &where);
    cp->diags.AddError(where, message);
    for (const auto& name : cycle) in_cycle.insert(*cp->graph.Find(name));
  }
  if (in_cycle.empty()) return *cp->graph.TopologicalOrder();

  // Check what can be checked: everything not on or below a cycle, in a valid order.
  std::set<int> blocked = in_cycle;
  for (int id : in_cycle) {
    for (int d : cp->graph.DownstreamClosure(id)) blocked.insert(d);
  }
  Graph acyclic;
  std::vector<int> ids;
  for (int id = 0; id < static_cast<int>(cp->graph.size()); ++id) {
    if (!blocked.count(id)) ids.push_back(id);
  }
  std::map<int, int> local;
  for (int id : ids) local[id] = acyclic.AddNode(cp->graph.node(id));
  for (int id : ids) {
    for (int up : cp->graph.upstream(id)) {
      if (local.count(up)) acyclic.AddEdge(local[up], local[id]);
    }
  }
  std::vector<int> order;
  auto acyclic_order = acyclic.TopologicalOrder();  // keep the Result alive while iterating
  for (int lid : *acyclic_order) order.push_back(*cp->graph.Find(acyclic.node(lid).name));
  return order;
}

}  // namespace derived::compile_internal
