#include "shadow/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace derived::shadow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// raw.events -> core.a -> core.b -> mart.c, core.a -> mart.d, raw.events -> core.e
Graph Dag() {
  Graph g;
  int src = g.AddNode({"raw.events", "", "", NodeKind::kSource, {}});
  int a = g.AddNode({"core.a", "", "", NodeKind::kTable, {}});
  int b = g.AddNode({"core.b", "", "", NodeKind::kTable, {}});
  int c = g.AddNode({"mart.c", "", "", NodeKind::kTable, {}});
  int d = g.AddNode({"mart.d", "", "", NodeKind::kTable, {}});
  int e = g.AddNode({"core.e", "", "", NodeKind::kTable, {}});
  g.AddEdge(src, a), g.AddEdge(a, b), g.AddEdge(b, c), g.AddEdge(a, d), g.AddEdge(src, e);
  return g;
}

const std::map<std::string, std::string> kProduction = {
    {"core.a", "h1"}, {"core.b", "h2"}, {"mart.c", "h3"}, {"mart.d", "h4"}, {"core.e", "h5"}};

std::vector<std::string> Names(const ShadowPlan& p) {
  std::vector<std::string> out;
  for (const auto& t : p.tables) out.push_back(t.table + ":" + std::string(ReasonName(t.reason)) + (t.because.empty() ? "" : "<" + t.because));
  return out;
}

TEST(ShadowPlan, AChangedTableAndItsDownstreamAndNothingElse) {
  auto branch = kProduction;
  branch["core.b"] = "h2-new";
  auto p = Plan(Dag(), branch, kProduction, "my_change");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_THAT(Names(*p), ElementsAre("core.b:changed", "mart.c:downstream<core.b"));
  EXPECT_TRUE(p->Builds("mart.c"));
  EXPECT_FALSE(p->Builds("core.a"));
}

TEST(ShadowPlan, ATableWhoseTestsAloneChangedIsBuiltWithoutItsReaders) {
  auto p = Plan(Dag(), kProduction, kProduction, "t", {"core.a"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_THAT(Names(*p), ElementsAre("core.a:tests"));
  // Changed tests under a changed definition: it is changed, and its readers follow.
  auto branch = kProduction;
  branch["core.b"] = "h2-new";
  p = Plan(Dag(), branch, kProduction, "t", {"core.b", "mart.d"});
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(Names(*p), ElementsAre("core.b:changed", "mart.c:downstream<core.b", "mart.d:tests"));
}

TEST(ShadowPlan, AnUpstreamChangeCarriesToEveryReaderInDependencyOrder) {
  auto branch = kProduction;
  branch["core.a"] = "h1-new";
  auto p = Plan(Dag(), branch, kProduction, "x");
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(Names(*p), ElementsAre("core.a:changed", "core.b:downstream<core.a", "mart.c:downstream<core.a",
                                     "mart.d:downstream<core.a"));
}

TEST(ShadowPlan, NewAndRemovedTablesAndNoChangeAtAll) {
  auto p = Plan(Dag(), kProduction, kProduction, "x");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->tables.empty());
  auto branch = kProduction;
  std::map<std::string, std::string> production = kProduction;
  production.erase("core.e");      // new on the branch
  production["core.gone"] = "h9";  // removed on the branch
  p = Plan(Dag(), branch, production, "x");
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(Names(*p), ElementsAre("core.e:new"));
  EXPECT_THAT(p->removed, ElementsAre("core.gone"));
}

TEST(ShadowPlan, ReadersOfPlannedTablesAreRedirectedToTheEnvironmentsSchemas) {
  auto branch = kProduction;
  branch["core.b"] = "h2-new";
  auto p = Plan(Dag(), branch, kProduction, "pr_12");
  ASSERT_TRUE(p.ok());
  auto core = p->RedirectFor("core");
  ASSERT_EQ(core.size(), 3u);  // core.b, b, mart.c
  EXPECT_EQ(core.at("core.b").ToString(), "shadow__pr_12__core.b");
  EXPECT_EQ(core.at("b").ToString(), "shadow__pr_12__core.b");
  EXPECT_EQ(core.at("mart.c").ToString(), "shadow__pr_12__mart.c");
  EXPECT_FALSE(core.count("core.a"));  // unchanged: production
  EXPECT_FALSE(p->RedirectFor("mart").count("b"));  // unqualified b in mart is mart.b
}

TEST(ShadowPlan, EnvironmentNamesAreCheckedByRule) {
  EXPECT_TRUE(CheckEnvironmentName("pr_12").ok());
  EXPECT_THAT(CheckEnvironmentName("").error().message, HasSubstr("1 to 24"));
  EXPECT_THAT(CheckEnvironmentName(std::string(25, 'a')).error().message, HasSubstr("1 to 24"));
  EXPECT_THAT(CheckEnvironmentName("9lives").error().message, HasSubstr("start with a-z"));
  EXPECT_THAT(CheckEnvironmentName("my-change").error().message, HasSubstr("a-z, 0-9 and _"));
  EXPECT_THAT(CheckEnvironmentName("a__b").error().message, HasSubstr("__"));
  EXPECT_THAT(CheckEnvironmentName("ab_").error().message, HasSubstr("end with _"));
  EXPECT_FALSE(Plan(Dag(), kProduction, kProduction, "Bad Name").ok());
}

TEST(ShadowPlan, ATableWithoutAHashIsAnError) {
  auto branch = kProduction;
  branch.erase("mart.d");
  auto p = Plan(Dag(), branch, kProduction, "x");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("mart.d"));
}

}  // namespace
}  // namespace derived::shadow
