// The dependency graph between tables and the sources they read. It knows names, kinds and
// tags only, not how a table is defined, so the planner and selectors can be tested alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/status.h"

namespace derived {

enum class NodeKind { kSource, kTable };

struct Node {
  std::string name;     // "dataset.table", lowercase
  std::string dataset;  // "dataset"
  std::string table;    // "table"
  NodeKind kind = NodeKind::kTable;
  std::vector<std::string> tags;  // compared case-insensitively
};

// Edges point from upstream (what is read) to downstream (what reads it). Not thread-safe
// to build; once built, any number of threads may read it.
class Graph {
 public:
  // Returns the node's id: ids are dense, 0..size()-1, in insertion order. name, dataset and
  // table are lowercased; an empty name is made from dataset and table, and empty dataset
  // and table are split from the name at its first '.'.
  // REQUIRES: no node of that name was added before.
  int AddNode(Node node);

  // Case-insensitive.
  std::optional<int> Find(std::string_view name) const;

  // Idempotent. A self-edge is allowed and is a cycle. REQUIRES: both ids exist.
  void AddEdge(int upstream, int downstream);

  size_t size() const { return nodes_.size(); }
  const Node& node(int id) const { return nodes_[id]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<int>& upstream(int id) const { return up_[id]; }      // sorted, unique
  const std::vector<int>& downstream(int id) const { return down_[id]; }  // sorted, unique

  // One concrete cycle per strongly connected component that has one, as a path of names that
  // starts and ends at the component's alphabetically first node and follows downstream edges,
  // e.g. {"a.x", "a.y", "a.x"}. The path is a shortest cycle through that node. Sorted by the
  // first name; empty when the graph is acyclic. O(V + E) plus the cyclic parts' sort.
  std::vector<std::vector<std::string>> FindCycles() const;

  // Every upstream before its downstream; among ready nodes the alphabetically first goes
  // first, so the order does not depend on insertion order. Fails naming one cycle
  // ("dependency cycle: a.x -> a.y -> a.x") when there is one.
  Result<std::vector<int>> TopologicalOrder() const;

  // Ids reachable within max_depth edges (-1 = unlimited), excluding id itself even when it
  // lies on a cycle. Sorted by id.
  std::vector<int> UpstreamClosure(int id, int max_depth = -1) const;
  std::vector<int> DownstreamClosure(int id, int max_depth = -1) const;

  // Node ids ordered by name.
  std::vector<int> IdsByName() const;

 private:
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> by_name_;
  std::vector<std::vector<int>> up_;
  std::vector<std::vector<int>> down_;
};

// "a.x -> a.y -> a.x"
std::string FormatCycle(const std::vector<std::string>& cycle);

}  // namespace derived
