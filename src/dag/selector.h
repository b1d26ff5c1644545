// The node selection syntax users know from dbt, e.g. "+sales.orders marts.* tag:nightly".
#pragma once

#include <string_view>
#include <vector>

#include "dag/graph.h"
#include "util/status.h"

namespace derived {

// Selects nodes by a selector of space- or comma-separated terms; the result is their union.
// A term is a method with optional graph operators, "[N]+" before and "+[N]" after:
//   dataset.table    that node
//   table            tables of that name in any dataset (all of them when several match)
//   dataset.*        every node of the dataset
//   tag:name         every node carrying the tag
//   source:x         like x ("dataset.table", "table", "dataset.*" or "*") but only sources
//   *                everything
//   +term / term+    the term plus all its upstream / downstream; "2+term" and "term+1"
//                    stop at that many edges
// Names compare case-insensitively. A malformed term, an empty selector, or a term matching
// nothing is an error naming the term, with a did-you-mean suggestion where one is close.
// The result is in topological order when the graph is acyclic, else sorted by name.
Result<std::vector<int>> Select(const Graph& graph, std::string_view selector);

}  // namespace derived
