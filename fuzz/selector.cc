// Fuzzes the selector syntax (dag/selector.h) over a small DAG with datasets, tags, a
// source and a diamond.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "dag/selector.h"

#include "expect.h"

namespace {

using derived::fuzz::Expect;

derived::Graph Fixture() {
  using derived::NodeKind;
  derived::Graph g;
  auto add = [&](const char* name, NodeKind kind, std::vector<std::string> tags = {}) {
    derived::Node n;
    n.name = name;
    n.kind = kind;
    n.tags = std::move(tags);
    g.AddNode(std::move(n));
  };
  add("raw.events", NodeKind::kSource, {"ingest"});
  add("raw.users", NodeKind::kSource);
  add("core.events", NodeKind::kTable, {"Nightly"});
  add("core.users", NodeKind::kTable);
  add("marts.daily_active", NodeKind::kTable, {"nightly", "finance"});
  add("marts.revenue", NodeKind::kTable);
  add("marts.users", NodeKind::kTable);
  add("other.users", NodeKind::kTable);
  auto edge = [&](const char* up, const char* down) { g.AddEdge(*g.Find(up), *g.Find(down)); };
  edge("raw.events", "core.events");
  edge("raw.users", "core.users");
  edge("core.events", "marts.daily_active");
  edge("core.users", "marts.daily_active");
  edge("core.users", "marts.users");
  edge("marts.daily_active", "marts.revenue");
  edge("core.users", "other.users");
  return g;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const derived::Graph graph = Fixture();
  const std::string_view selector(reinterpret_cast<const char*>(data), size);
  auto ids = derived::Select(graph, selector);
  if (!ids.ok()) {
    (void)ids.error().ToString();
    return 0;
  }
  std::set<int> seen;
  for (int id : *ids) {
    Expect(id >= 0 && static_cast<size_t>(id) < graph.size(), "selected ids are nodes of the graph");
    Expect(seen.insert(id).second, "a node is selected once");
  }
  Expect(!ids->empty(), "a selection that succeeds is not empty");
  return 0;
}
