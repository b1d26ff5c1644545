// CompiledProject::Relocate: the same project with some tables in other datasets.
#include <algorithm>
#include <numeric>

#include "compile/compiler.h"

namespace derived {

void CompiledProject::Relocate(const std::map<std::string, std::string>& to) {
  auto renamed = [&](const std::string& name) {
    auto it = to.find(name);
    return it == to.end() ? name : it->second + name.substr(name.find('.'));
  };
  for (auto& def : project.tables) {
    for (auto& test : def.tests) {
      if (test.kind == TestDef::Kind::kRelationships) test.to_table = renamed(test.to_table);
    }
  }
  for (auto& t : tables) {
    // `upstream` stays sorted, with `edges` parallel to it.
    std::vector<std::pair<std::string, UpstreamEdge>> ups;
    for (size_t i = 0; i < t.upstream.size(); ++i) {
      UpstreamEdge e = i < t.edges.size() ? t.edges[i] : UpstreamEdge{};
      e.name = renamed(e.name);
      ups.emplace_back(renamed(t.upstream[i]), std::move(e));
    }
    std::sort(ups.begin(), ups.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const bool parallel = t.edges.size() == t.upstream.size();
    t.upstream.clear();
    t.edges.clear();
    for (auto& [name, edge] : ups) {
      t.upstream.push_back(name);
      if (parallel) t.edges.push_back(std::move(edge));
    }
    for (auto& test : t.custom_tests) {
      for (auto& r : test.reads) r = renamed(r);
      std::sort(test.reads.begin(), test.reads.end());
    }
  }
  for (auto& def : project.tables) {
    auto it = to.find(def.qualified_name());
    if (it == to.end()) continue;
    // ref() and source() render as they did in the table's first dataset.
    if (auto hints = dbt_hints_.find(def.dataset); hints != dbt_hints_.end() && !dbt_hints_.count(it->second)) {
      tmpl::Context copy = hints->second;
      dbt_hints_.emplace(it->second, std::move(copy));
    }
    def.dataset = it->second;
  }
  // Tables stay sorted by name (Project::FindTable searches them), with their compiled
  // forms and templates parallel.
  std::vector<size_t> order(project.tables.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return project.tables[a].qualified_name() < project.tables[b].qualified_name();
  });
  std::vector<TableDef> defs;
  std::vector<CompiledTable> compiled;
  std::vector<std::shared_ptr<const tmpl::Template>> templates;
  for (size_t i : order) {
    defs.push_back(std::move(project.tables[i]));
    compiled.push_back(std::move(tables[i]));
    compiled.back().def = compiled.size() - 1;
    templates.push_back(i < templates_.size() ? std::move(templates_[i]) : nullptr);
  }
  project.tables = std::move(defs);
  tables = std::move(compiled);
  templates_ = std::move(templates);
  // The same nodes under their new names: ids, and so `order` and each table's node, hold.
  Graph moved;
  for (const Node& n : graph.nodes()) {
    Node copy = n;
    if (auto it = to.find(n.name); it != to.end()) {
      copy.name.clear();
      copy.dataset = it->second;
    }
    moved.AddNode(std::move(copy));
  }
  for (int id = 0; id < static_cast<int>(graph.size()); ++id) {
    for (int up : graph.upstream(id)) moved.AddEdge(up, id);
  }
  graph = std::move(moved);
}

}  // namespace derived
