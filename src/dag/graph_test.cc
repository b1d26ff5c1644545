// Expected orders and paths below were worked out by hand from the edges each test builds.
#include "dag/graph.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace derived {
namespace {

int Add(Graph& g, std::string name, NodeKind kind = NodeKind::kTable) {
  Node n;
  n.name = std::move(name);
  n.kind = kind;
  return g.AddNode(std::move(n));
}

// Adds "up>down" edges, creating nodes on first mention.
void AddEdges(Graph& g, const std::vector<std::string>& edges) {
  for (const std::string& e : edges) {
    size_t gt = e.find('>');
    std::string up = e.substr(0, gt), down = e.substr(gt + 1);
    int u = g.Find(up) ? *g.Find(up) : Add(g, up);
    int d = g.Find(down) ? *g.Find(down) : Add(g, down);
    g.AddEdge(u, d);
  }
}

std::vector<std::string> Names(const Graph& g, const std::vector<int>& ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(g.node(id).name);
  return out;
}

using Path = std::vector<std::string>;

TEST(Graph, AddAndFindNodes) {
  Graph g;
  Node split;
  split.name = "Sales.Orders";
  split.kind = NodeKind::kSource;
  split.tags = {"Nightly"};
  EXPECT_EQ(g.AddNode(split), 0);
  Node joined;
  joined.dataset = "marts";
  joined.table = "Revenue";
  EXPECT_EQ(g.AddNode(joined), 1);

  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(g.node(0).name, "sales.orders");
  EXPECT_EQ(g.node(0).dataset, "sales");
  EXPECT_EQ(g.node(0).table, "orders");
  EXPECT_EQ(g.node(0).kind, NodeKind::kSource);
  EXPECT_EQ(g.node(0).tags, std::vector<std::string>{"Nightly"});
  EXPECT_EQ(g.node(1).name, "marts.revenue");
  EXPECT_EQ(g.Find("sales.orders"), 0);
  EXPECT_EQ(g.Find("SALES.orders"), 0);
  EXPECT_EQ(g.Find("marts.revenue"), 1);
  EXPECT_EQ(g.Find("marts.nothing"), std::nullopt);
  EXPECT_EQ(g.Find("orders"), std::nullopt);  // Find takes full names only
}

TEST(Graph, EdgesAreSortedUniqueAndIdempotent) {
  Graph g;
  int a = Add(g, "d.a"), b = Add(g, "d.b"), c = Add(g, "d.c");
  g.AddEdge(c, b);
  g.AddEdge(a, b);
  g.AddEdge(a, b);
  g.AddEdge(b, c);
  g.AddEdge(a, c);
  EXPECT_EQ(g.upstream(b), (std::vector<int>{a, c}));
  EXPECT_EQ(g.downstream(a), (std::vector<int>{b, c}));
  EXPECT_EQ(g.upstream(c), (std::vector<int>{a, b}));
  EXPECT_TRUE(g.upstream(a).empty());
}

TEST(FindCycles, AcyclicIsEmpty) {
  Graph g;
  AddEdges(g, {"d.a>d.b", "d.b>d.c", "d.a>d.c"});
  EXPECT_TRUE(g.FindCycles().empty());
  EXPECT_TRUE(Graph().FindCycles().empty());
}

TEST(FindCycles, SelfLoop) {
  Graph g;
  AddEdges(g, {"d.a>d.b", "d.b>d.b"});
  EXPECT_EQ(g.FindCycles(), (std::vector<Path>{{"d.b", "d.b"}}));
}

TEST(FindCycles, TwoCycle) {
  Graph g;
  AddEdges(g, {"a.y>a.x", "a.x>a.y", "a.x>a.z"});
  EXPECT_EQ(g.FindCycles(), (std::vector<Path>{{"a.x", "a.y", "a.x"}}));
}

TEST(FindCycles, LongCycleStartsAtFirstNameAndFollowsEdges) {
  Graph g;
  AddEdges(g, {"a.m>a.c", "a.c>a.q", "a.q>a.b", "a.b>a.m", "s.in>a.m", "a.q>a.out"});
  EXPECT_EQ(g.FindCycles(), (std::vector<Path>{{"a.b", "a.m", "a.c", "a.q", "a.b"}}));
}

TEST(FindCycles, ReportsAShortestCycleThroughTheFirstName) {
  Graph g;
  // a -> b -> c -> d -> a, and the shortcut c -> a.
  AddEdges(g, {"d.a>d.b", "d.b>d.c", "d.c>d.d", "d.d>d.a", "d.c>d.a"});
  EXPECT_EQ(g.FindCycles(), (std::vector<Path>{{"d.a", "d.b", "d.c", "d.a"}}));
}

TEST(FindCycles, TwoSeparateCyclesSortedByName) {
  Graph g;
  AddEdges(g, {"z.p>z.q", "z.q>z.p", "b.x>b.y", "b.y>b.z", "b.z>b.x", "b.z>z.p", "m.m>m.m"});
  EXPECT_EQ(g.FindCycles(),
            (std::vector<Path>{{"b.x", "b.y", "b.z", "b.x"}, {"m.m", "m.m"}, {"z.p", "z.q", "z.p"}}));
}

TEST(TopologicalOrder, TiesBrokenByNameRegardlessOfInsertion) {
  const Path want = {"s.raw", "a.b", "a.m", "a.z"};
  Graph forward;
  AddEdges(forward, {"s.raw>a.z", "s.raw>a.b", "a.b>a.m"});
  Result<std::vector<int>> f = forward.TopologicalOrder();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Names(forward, *f), want);

  Graph backward;
  Add(backward, "a.z");
  Add(backward, "a.m");
  Add(backward, "a.b");
  AddEdges(backward, {"a.b>a.m", "s.raw>a.b", "s.raw>a.z"});
  Result<std::vector<int>> b = backward.TopologicalOrder();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Names(backward, *b), want);
}

TEST(TopologicalOrder, IndependentNodesByName) {
  Graph g;
  Add(g, "c.c");
  Add(g, "a.a");
  Add(g, "b.b");
  Result<std::vector<int>> order = g.TopologicalOrder();
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(Names(g, *order), (Path{"a.a", "b.b", "c.c"}));
  EXPECT_TRUE(Graph().TopologicalOrder()->empty());
}

TEST(TopologicalOrder, CycleIsAnError) {
  Graph g;
  AddEdges(g, {"s.in>a.x", "a.x>a.y", "a.y>a.x"});
  Result<std::vector<int>> order = g.TopologicalOrder();
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().message, "dependency cycle: a.x -> a.y -> a.x");

  AddEdges(g, {"b.b>b.b"});
  order = g.TopologicalOrder();
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().message, "dependency cycle: a.x -> a.y -> a.x (and 1 more)");
}

TEST(Closure, DepthLimits) {
  Graph g;
  // s.a -> t.b -> t.c -> t.d, plus s.a -> t.c and t.x -> t.d.
  AddEdges(g, {"s.a>t.b", "t.b>t.c", "t.c>t.d", "s.a>t.c", "t.x>t.d"});
  int a = *g.Find("s.a"), b = *g.Find("t.b"), c = *g.Find("t.c"), d = *g.Find("t.d"), x = *g.Find("t.x");
  EXPECT_EQ(g.UpstreamClosure(d), (std::vector<int>{a, b, c, x}));
  EXPECT_EQ(g.UpstreamClosure(d, 0), std::vector<int>{});
  EXPECT_EQ(g.UpstreamClosure(d, 1), (std::vector<int>{c, x}));
  EXPECT_EQ(g.UpstreamClosure(d, 2), (std::vector<int>{a, b, c, x}));  // a is 2 away via c
  EXPECT_EQ(g.DownstreamClosure(a), (std::vector<int>{b, c, d}));
  EXPECT_EQ(g.DownstreamClosure(a, 1), (std::vector<int>{b, c}));
  EXPECT_EQ(g.DownstreamClosure(d), std::vector<int>{});
  EXPECT_EQ(g.UpstreamClosure(a), std::vector<int>{});
}

TEST(Closure, ExcludesSelfOnCycles) {
  Graph g;
  AddEdges(g, {"d.a>d.b", "d.b>d.a", "d.c>d.c"});
  int a = *g.Find("d.a"), b = *g.Find("d.b"), c = *g.Find("d.c");
  EXPECT_EQ(g.UpstreamClosure(a), std::vector<int>{b});
  EXPECT_EQ(g.DownstreamClosure(a), std::vector<int>{b});
  EXPECT_EQ(g.DownstreamClosure(c), std::vector<int>{});
}

// Sanity for size, not timing: everything must be linear-ish to finish instantly.
TEST(Graph, TenThousandNodesWithFanInTen) {
  constexpr int kNodes = 10000;
  Graph g;
  for (int i = 0; i < kNodes; ++i)
    Add(g, "d.n" + std::to_string(i), i < 100 ? NodeKind::kSource : NodeKind::kTable);
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  size_t edges = 0;
  for (int i = 100; i < kNodes; ++i) {
    int fan_in = 1 + static_cast<int>(next() % 10);
    for (int k = 0; k < fan_in; ++k) {
      g.AddEdge(static_cast<int>(next() % static_cast<uint32_t>(i)), i);  // always from a lower id
      ++edges;
    }
  }
  EXPECT_GT(edges, 40000u);
  Result<std::vector<int>> order = g.TopologicalOrder();
  ASSERT_TRUE(order.ok());
  ASSERT_EQ(order->size(), static_cast<size_t>(kNodes));
  std::vector<int> position(kNodes);
  for (int i = 0; i < kNodes; ++i) position[(*order)[i]] = i;
  for (int v = 0; v < kNodes; ++v) {
    for (int u : g.upstream(v)) EXPECT_LT(position[u], position[v]);
  }
  EXPECT_TRUE(g.FindCycles().empty());
  std::vector<int> up = g.UpstreamClosure(kNodes - 1);
  ASSERT_FALSE(up.empty());
  EXPECT_LT(up.back(), kNodes - 1);  // edges only go from lower ids to higher ones
  EXPECT_TRUE(g.DownstreamClosure(kNodes - 1).empty());
}

TEST(Graph, TenThousandLongCycleDoesNotOverflowTheStack) {
  constexpr int kNodes = 10000;
  Graph g;
  for (int i = 0; i < kNodes; ++i) Add(g, "d.n" + std::to_string(100000 + i));  // names sort like ids
  for (int i = 0; i < kNodes; ++i) g.AddEdge(i, (i + 1) % kNodes);
  std::vector<Path> cycles = g.FindCycles();
  ASSERT_EQ(cycles.size(), 1u);
  ASSERT_EQ(cycles[0].size(), static_cast<size_t>(kNodes + 1));
  EXPECT_EQ(cycles[0].front(), "d.n100000");
  EXPECT_EQ(cycles[0][1], "d.n100001");
  EXPECT_EQ(cycles[0][kNodes - 1], "d.n109999");
  EXPECT_EQ(cycles[0].back(), "d.n100000");
  EXPECT_EQ(g.DownstreamClosure(0).size(), static_cast<size_t>(kNodes - 1));
  EXPECT_EQ(g.DownstreamClosure(0, 3), (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(g.TopologicalOrder().ok());
}

}  // namespace
}  // namespace derived
