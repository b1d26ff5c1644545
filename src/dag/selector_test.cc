// Expected selections were worked out by hand from the graph in Fixture().
#include "dag/selector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace derived {
namespace {

using Names = std::vector<std::string>;

int Add(Graph& g, std::string name, NodeKind kind, std::vector<std::string> tags = {}) {
  Node n;
  n.name = std::move(name);
  n.kind = kind;
  n.tags = std::move(tags);
  return g.AddNode(std::move(n));
}

void Edge(Graph& g, std::string_view up, std::string_view down) { g.AddEdge(*g.Find(up), *g.Find(down)); }

//   raw.events -> core.events -> marts.daily_active -> marts.revenue
//   raw.users  -> core.users  -> marts.daily_active
//                 core.users  -> marts.users
// Topological order with ties by name:
//   raw.events, core.events, raw.users, core.users, marts.daily_active, marts.revenue, marts.users
Graph Fixture() {
  Graph g;
  Add(g, "marts.revenue", NodeKind::kTable);
  Add(g, "marts.users", NodeKind::kTable);
  Add(g, "marts.daily_active", NodeKind::kTable, {"nightly", "Finance"});
  Add(g, "core.users", NodeKind::kTable);
  Add(g, "core.events", NodeKind::kTable, {"Nightly"});
  Add(g, "raw.users", NodeKind::kSource);
  Add(g, "raw.events", NodeKind::kSource, {"ingest"});
  Edge(g, "raw.events", "core.events");
  Edge(g, "raw.users", "core.users");
  Edge(g, "core.events", "marts.daily_active");
  Edge(g, "core.users", "marts.daily_active");
  Edge(g, "core.users", "marts.users");
  Edge(g, "marts.daily_active", "marts.revenue");
  return g;
}

Names Sel(const Graph& g, std::string_view selector) {
  Result<std::vector<int>> r = Select(g, selector);
  EXPECT_TRUE(r.ok()) << selector << ": " << (r.ok() ? "" : r.error().message);
  Names out;
  if (r.ok()) {
    for (int id : *r) out.push_back(g.node(id).name);
  }
  return out;
}

std::string SelError(const Graph& g, std::string_view selector) {
  Result<std::vector<int>> r = Select(g, selector);
  EXPECT_FALSE(r.ok()) << selector;
  return r.ok() ? "" : r.error().message;
}

const std::string kSyntax =
    "expected dataset.table, table, dataset.*, tag:name, source:dataset.table or *, "
    "optionally with [N]+ before or +[N] after";

TEST(Select, QualifiedAndCaseInsensitive) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "core.events"), Names{"core.events"});
  EXPECT_EQ(Sel(g, "CORE.Events"), Names{"core.events"});
}

TEST(Select, UnqualifiedMatchesEveryDataset) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "users"), (Names{"raw.users", "core.users", "marts.users"}));
  EXPECT_EQ(Sel(g, "revenue"), Names{"marts.revenue"});
}

TEST(Select, Upstream) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "+marts.daily_active"),
            (Names{"raw.events", "core.events", "raw.users", "core.users", "marts.daily_active"}));
  EXPECT_EQ(Sel(g, "1+marts.daily_active"), (Names{"core.events", "core.users", "marts.daily_active"}));
  EXPECT_EQ(Sel(g, "0+marts.daily_active"), Names{"marts.daily_active"});
  EXPECT_EQ(Sel(g, "+raw.events"), Names{"raw.events"});
}

TEST(Select, Downstream) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "core.users+"),
            (Names{"core.users", "marts.daily_active", "marts.revenue", "marts.users"}));
  EXPECT_EQ(Sel(g, "core.users+1"), (Names{"core.users", "marts.daily_active", "marts.users"}));
  EXPECT_EQ(Sel(g, "raw.users+2"), (Names{"raw.users", "core.users", "marts.daily_active", "marts.users"}));
}

TEST(Select, BothDirections) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "+core.events+"),
            (Names{"raw.events", "core.events", "marts.daily_active", "marts.revenue"}));
  EXPECT_EQ(Sel(g, "1+marts.daily_active+1"),
            (Names{"core.events", "core.users", "marts.daily_active", "marts.revenue"}));
}

TEST(Select, DatasetWildcardTagsAndEverything) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "marts.*"), (Names{"marts.daily_active", "marts.revenue", "marts.users"}));
  EXPECT_EQ(Sel(g, "RAW.*"), (Names{"raw.events", "raw.users"}));
  EXPECT_EQ(Sel(g, "tag:nightly"), (Names{"core.events", "marts.daily_active"}));
  EXPECT_EQ(Sel(g, "tag:FINANCE"), Names{"marts.daily_active"});
  EXPECT_EQ(Sel(g, "tag:nightly+1"), (Names{"core.events", "marts.daily_active", "marts.revenue"}));
  EXPECT_EQ(Sel(g, "*"), (Names{"raw.events", "core.events", "raw.users", "core.users", "marts.daily_active",
                                "marts.revenue", "marts.users"}));
  EXPECT_EQ(Sel(g, "+*+").size(), 7u);
}

TEST(Select, Sources) {
  Graph g = Fixture();
  EXPECT_EQ(Sel(g, "source:raw.events"), Names{"raw.events"});
  EXPECT_EQ(Sel(g, "source:users"), Names{"raw.users"});
  EXPECT_EQ(Sel(g, "source:*"), (Names{"raw.events", "raw.users"}));
  EXPECT_EQ(Sel(g, "source:raw.*"), (Names{"raw.events", "raw.users"}));
  EXPECT_EQ(Sel(g, "source:raw.users+1"), (Names{"raw.users", "core.users"}));
}

TEST(Select, UnionOfTerms) {
  Graph g = Fixture();
  const Names want = {"core.events", "marts.revenue"};
  EXPECT_EQ(Sel(g, "marts.revenue core.events"), want);
  EXPECT_EQ(Sel(g, "marts.revenue,core.events"), want);
  EXPECT_EQ(Sel(g, " marts.revenue ,,  core.events\t"), want);
  EXPECT_EQ(Sel(g, "core.events core.events"), Names{"core.events"});
  EXPECT_EQ(Sel(g, "1+marts.revenue marts.users"),
            (Names{"marts.daily_active", "marts.revenue", "marts.users"}));
}

TEST(Select, NamesStartingWithDigits) {
  Graph g;
  Add(g, "a.x", NodeKind::kSource);
  Add(g, "a.2024_sales", NodeKind::kTable);
  Edge(g, "a.x", "a.2024_sales");
  EXPECT_EQ(Sel(g, "2024_sales"), Names{"a.2024_sales"});
  EXPECT_EQ(Sel(g, "1+2024_sales"), (Names{"a.x", "a.2024_sales"}));
  EXPECT_EQ(Sel(g, "a.x+2024"), (Names{"a.x", "a.2024_sales"}));  // +2024 is a depth
}

TEST(Select, CyclicGraphIsSortedByName) {
  Graph g;
  Add(g, "d.z", NodeKind::kTable);
  Add(g, "d.a", NodeKind::kTable);
  Add(g, "d.m", NodeKind::kTable);
  Edge(g, "d.z", "d.a");
  Edge(g, "d.a", "d.z");
  Edge(g, "d.z", "d.m");
  EXPECT_EQ(Sel(g, "d.z+"), (Names{"d.a", "d.m", "d.z"}));
  EXPECT_EQ(Sel(g, "+d.a"), (Names{"d.a", "d.z"}));
}

TEST(Select, MatchesNothing) {
  Graph g = Fixture();
  EXPECT_EQ(SelError(g, "core.evnts"), "selector 'core.evnts' matches nothing (did you mean 'core.events'?)");
  EXPECT_EQ(SelError(g, "+Core.Evnts+2"),
            "selector '+Core.Evnts+2' matches nothing (did you mean 'core.events'?)");
  EXPECT_EQ(SelError(g, "user"), "selector 'user' matches nothing (did you mean 'users'?)");
  EXPECT_EQ(SelError(g, "mart.*"), "selector 'mart.*' matches nothing (did you mean 'marts.*'?)");
  EXPECT_EQ(SelError(g, "tag:nighly"), "selector 'tag:nighly' matches nothing (did you mean 'tag:nightly'?)");
  EXPECT_EQ(SelError(g, "tag:weekly"), "selector 'tag:weekly' matches nothing");
  EXPECT_EQ(SelError(g, "zzz.qqq"), "selector 'zzz.qqq' matches nothing");
  EXPECT_EQ(SelError(g, "source:core.events"), "selector 'source:core.events' matches no source");
  EXPECT_EQ(SelError(g, "source:raw.event"),
            "selector 'source:raw.event' matches no source (did you mean 'source:raw.events'?)");
  // The first failing term is reported even when others match.
  EXPECT_EQ(SelError(g, "core.events, nope.nope"), "selector 'nope.nope' matches nothing");
  EXPECT_EQ(SelError(Graph(), "*"), "selector '*' matches nothing");
}

TEST(Select, MalformedTerms) {
  Graph g = Fixture();
  EXPECT_EQ(SelError(g, ""), "empty selector; " + kSyntax);
  EXPECT_EQ(SelError(g, " , "), "empty selector; " + kSyntax);
  EXPECT_EQ(SelError(g, "\t\n,,,\r"), "empty selector; " + kSyntax);
  EXPECT_EQ(SelError(g, "+"), "invalid selector term '+': missing a name; " + kSyntax);
  EXPECT_EQ(SelError(g, "2+"), "invalid selector term '2+': missing a name; " + kSyntax);
  EXPECT_EQ(SelError(g, "core.events++"),
            "invalid selector term 'core.events++': '+' may only come first or last; " + kSyntax);
  EXPECT_EQ(SelError(g, "core+events"),
            "invalid selector term 'core+events': '+' may only come first or last; " + kSyntax);
  EXPECT_EQ(SelError(g, "99999999999+core.events"),
            "invalid selector term '99999999999+core.events': depth is too large; " + kSyntax);
  EXPECT_EQ(SelError(g, "core.events+99999999999"),
            "invalid selector term 'core.events+99999999999': depth is too large; " + kSyntax);
  EXPECT_EQ(SelError(g, "tags:nightly"),
            "invalid selector term 'tags:nightly': unknown method 'tags:' (did you mean 'tag'?); "
            "expected tag:name or source:dataset.table");
  EXPECT_EQ(SelError(g, "path:models"),
            "invalid selector term 'path:models': unknown method 'path:'; expected tag:name or "
            "source:dataset.table");
  EXPECT_EQ(SelError(g, "tag:"), "invalid selector term 'tag:': missing a tag name after 'tag:'");
  EXPECT_EQ(
      SelError(g, "source:"),
      "invalid selector term 'source:': expected source:dataset.table, source:table, source:dataset.* or "
      "source:*");
  EXPECT_EQ(SelError(g, "source:tag:x"),
            "invalid selector term 'source:tag:x': expected source:dataset.table, source:table, "
            "source:dataset.* or "
            "source:*");
}

}  // namespace
}  // namespace derived
