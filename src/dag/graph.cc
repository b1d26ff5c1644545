#include "dag/graph.h"

#include <algorithm>
#include <cassert>
#include <deque>
#include <functional>
#include <queue>

#include "util/strings.h"

namespace derived {
namespace {

// Keeps `v` sorted and unique. Edges mostly arrive in id order, so this is usually an append.
void InsertSorted(std::vector<int>& v, int x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || *it != x) v.insert(it, x);
}

std::vector<int> Closure(const std::vector<std::vector<int>>& edges, int start, int max_depth) {
  std::vector<char> seen(edges.size(), 0);
  std::vector<int> frontier = {start}, out;
  seen[start] = 1;
  for (int depth = 0; !frontier.empty() && (max_depth < 0 || depth < max_depth); ++depth) {
    std::vector<int> next;
    for (int v : frontier) {
      for (int w : edges[v]) {
        if (seen[w]) continue;
        seen[w] = 1;
        next.push_back(w);
        out.push_back(w);
      }
    }
    frontier = std::move(next);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Tarjan's strongly connected components, iterative so a 10,000-long chain cannot overflow
// the stack. Returns the component index of every node.
std::vector<int> ComponentOf(const std::vector<std::vector<int>>& down, int* count) {
  const int n = static_cast<int>(down.size());
  std::vector<int> index(down.size(), -1), low(down.size(), 0), component(down.size(), -1);
  std::vector<char> on_stack(down.size(), 0);
  std::vector<int> stack;
  std::vector<std::pair<int, size_t>> calls;  // (node, next edge to look at)
  int next_index = 0;
  *count = 0;
  for (int root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    calls.push_back({root, 0});
    while (!calls.empty()) {
      auto [v, edge] = calls.back();
      const int vi = v;
      if (edge == 0 && index[vi] < 0) {
        index[vi] = low[vi] = next_index++;
        stack.push_back(v);
        on_stack[vi] = 1;
      }
      if (edge < down[vi].size()) {
        calls.back().second = edge + 1;
        const int w = down[vi][edge];
        const int wi = w;
        if (index[wi] < 0) {
          calls.push_back({w, 0});
        } else if (on_stack[wi]) {
          low[vi] = std::min(low[vi], index[wi]);
        }
        continue;
      }
      calls.pop_back();
      if (low[vi] == index[vi]) {
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = 0;
          component[w] = *count;
        } while (w != v);
        ++*count;
      }
      if (!calls.empty()) {
        const int parent = calls.back().first;
        low[parent] = std::min(low[parent], low[vi]);
      }
    }
  }
  return component;
}

}  // namespace

int Graph::AddNode(Node node) {
  node.name = ToLower(node.name);
  node.dataset = ToLower(node.dataset);
  node.table = ToLower(node.table);
  if (node.name.empty()) node.name = node.dataset + "." + node.table;
  if (node.dataset.empty() && node.table.empty()) {
    size_t dot = node.name.find('.');
    node.dataset = dot == std::string::npos ? "" : node.name.substr(0, dot);
    node.table = dot == std::string::npos ? node.name : node.name.substr(dot + 1);
  }
  const int id = static_cast<int>(nodes_.size());
  [[maybe_unused]] bool inserted = by_name_.emplace(node.name, id).second;
  assert(inserted && "Graph::AddNode: duplicate name");
  nodes_.push_back(std::move(node));
  up_.emplace_back();
  down_.emplace_back();
  return id;
}

std::optional<int> Graph::Find(std::string_view name) const {
  auto it = by_name_.find(ToLower(name));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

void Graph::AddEdge(int upstream, int downstream) {
  assert(upstream >= 0 && static_cast<size_t>(upstream) < size());
  assert(downstream >= 0 && static_cast<size_t>(downstream) < size());
  InsertSorted(down_[upstream], downstream);
  InsertSorted(up_[downstream], upstream);
}

std::vector<int> Graph::IdsByName() const {
  std::vector<int> ids(size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  std::sort(ids.begin(), ids.end(), [this](int a, int b) { return node(a).name < node(b).name; });
  return ids;
}

std::vector<std::vector<std::string>> Graph::FindCycles() const {
  int count = 0;
  std::vector<int> component = ComponentOf(down_, &count);
  std::vector<int> members(count, 0);
  for (int c : component) ++members[c];

  std::vector<int> rank(size());  // position by name, for deterministic paths
  std::vector<int> by_name = IdsByName();
  for (size_t i = 0; i < by_name.size(); ++i) rank[by_name[i]] = static_cast<int>(i);

  std::vector<std::vector<std::string>> cycles;
  std::vector<char> reported(count, 0);
  std::vector<int> parent(size(), -1);
  for (int start : by_name) {  // the first member seen of a component is its smallest name
    const int sc = component[start];
    if (reported[sc]) continue;
    reported[sc] = 1;
    const std::vector<int>& out = down_[start];
    bool self_loop = std::binary_search(out.begin(), out.end(), start);
    if (members[sc] == 1 && !self_loop) continue;

    // Breadth-first inside the component finds a shortest way back to start.
    std::deque<int> queue = {start};
    std::vector<int> touched = {start};
    parent[start] = start;
    int last = -1;
    while (!queue.empty() && last < 0) {
      int v = queue.front();
      queue.pop_front();
      std::vector<int> next;
      for (int w : down_[v]) {
        if (component[w] == sc) next.push_back(w);
      }
      std::sort(next.begin(), next.end(), [&](int a, int b) { return rank[a] < rank[b]; });
      for (int w : next) {
        if (w == start) {
          last = v;
          break;
        }
        if (parent[w] >= 0) continue;
        parent[w] = v;
        touched.push_back(w);
        queue.push_back(w);
      }
    }
    std::vector<std::string> path = {node(start).name};
    for (int v = last; v != start; v = parent[v]) path.push_back(node(v).name);
    path.push_back(node(start).name);
    std::reverse(path.begin(), path.end());
    cycles.push_back(std::move(path));
    for (int v : touched) parent[v] = -1;
  }
  return cycles;
}

Result<std::vector<int>> Graph::TopologicalOrder() const {
  std::vector<int> by_name = IdsByName();
  std::vector<int> rank(size());
  for (size_t i = 0; i < by_name.size(); ++i) rank[by_name[i]] = static_cast<int>(i);

  // Ready nodes are keyed by name rank so ties resolve alphabetically, independent of ids.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  std::vector<size_t> waiting(size());
  for (size_t v = 0; v < size(); ++v) {
    waiting[v] = up_[v].size();
    if (waiting[v] == 0) ready.push(rank[v]);
  }
  std::vector<int> order;
  order.reserve(size());
  while (!ready.empty()) {
    int v = by_name[ready.top()];
    ready.pop();
    order.push_back(v);
    for (int w : down_[v]) {
      if (--waiting[w] == 0) ready.push(rank[w]);
    }
  }
  if (order.size() == size()) return order;

  std::vector<std::vector<std::string>> cycles = FindCycles();
  std::string message = "dependency cycle: " + FormatCycle(cycles.front());
  if (cycles.size() > 1) message += " (and " + std::to_string(cycles.size() - 1) + " more)";
  return Error(message);
}

std::vector<int> Graph::UpstreamClosure(int id, int max_depth) const { return Closure(up_, id, max_depth); }

std::vector<int> Graph::DownstreamClosure(int id, int max_depth) const {
  return Closure(down_, id, max_depth);
}

std::string FormatCycle(const std::vector<std::string>& cycle) { return Join(cycle, " -> "); }

}  // namespace derived
