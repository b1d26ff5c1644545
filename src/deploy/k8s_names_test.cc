#include "deploy/k8s_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "deploy/k8s.h"
#include "deploy/project_files.h"
#include "deploy/yaml_text.h"

namespace derived::deploy {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(K8sNames, TableNamesBecomeDnsLabels) {
  EXPECT_EQ(DnsWords("core.Daily_orders"), "core-daily-orders");
  EXPECT_EQ(DnsWords("__a..b__"), "a-b");
  auto names = TableDeploymentNames({"core.daily_orders", "mart.x"});
  EXPECT_EQ(names["core.daily_orders"], "derived-core-daily-orders");
  EXPECT_EQ(names["mart.x"], "derived-mart-x");
}

TEST(K8sNames, CollidingAndLongNamesTakeAStableHashSuffix) {
  auto names =
      TableDeploymentNames({"core.daily_orders", "core.daily__orders", "core_daily.orders", "core.other"});
  std::set<std::string> distinct;
  for (const char* t : {"core.daily_orders", "core.daily__orders", "core_daily.orders"}) {
    EXPECT_THAT(names[t], MatchesRegex("derived-core-daily-orders-[0-9a-f]{8}")) << t;
    distinct.insert(names[t]);
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(names["core.other"], "derived-core-other");
  // A table's suffixed name does not depend on which others collide with it.
  EXPECT_EQ(TableDeploymentNames({"core.daily_orders", "core_daily.orders"})["core.daily_orders"],
            names["core.daily_orders"]);

  std::string long_table = "warehouse_reporting." + std::string(70, 'q');
  std::string name = TableDeploymentNames({long_table})[long_table];
  EXPECT_LE(name.size(), kMaxLabelLength);
  EXPECT_TRUE(IsDnsLabel(name)) << name;
  EXPECT_EQ(name, TableDeploymentNames({long_table})[long_table]);
  EXPECT_NE(name, TableDeploymentNames({long_table + "r"})[long_table + "r"]);
}

TEST(K8sNames, ConfigMapKeysAreValidAndOneToOne) {
  auto keys = ConfigMapKeys({"derived.yaml", "tables/core/x.yaml", "tables/a.b/c.yaml", "tables/a/b.c.yaml",
                             "tables/caf\xC3\xA9/x y.yaml", "macros/" + std::string(300, 'm') + ".sql"});
  EXPECT_EQ(keys["derived.yaml"], "derived.yaml");
  EXPECT_EQ(keys["tables/core/x.yaml"], "tables.core.x.yaml");
  EXPECT_NE(keys["tables/a.b/c.yaml"], keys["tables/a/b.c.yaml"]);
  std::set<std::string> distinct;
  for (const auto& [path, key] : keys) {
    EXPECT_TRUE(IsConfigMapKey(key)) << path << " -> " << key;
    distinct.insert(key);
  }
  EXPECT_EQ(distinct.size(), keys.size());
}

TEST(K8sNames, KubernetesNameRules) {
  EXPECT_TRUE(IsDnsLabel("derived-core-a"));
  EXPECT_FALSE(IsDnsLabel("-a"));
  EXPECT_FALSE(IsDnsLabel("a_b"));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_TRUE(IsDnsSubdomain("shop.warehouse"));
  EXPECT_FALSE(IsDnsSubdomain("shop..warehouse"));
  EXPECT_TRUE(IsConfigMapKey("tables.core.A_b-c.yaml"));
  EXPECT_FALSE(IsConfigMapKey(".."));
  EXPECT_FALSE(IsConfigMapKey("a/b"));
}

TEST(K8sQuantity, FollowsTheQuantitySyntax) {
  for (const char* q : {"50m", "256Mi", "1", "1.5Gi", "2e3", ".5", "+1k"}) EXPECT_TRUE(IsQuantity(q)) << q;
  for (const char* q : {"", "256MB", "1.2.3", "Mi", "-", "1 Gi", "1ki"}) EXPECT_FALSE(IsQuantity(q)) << q;
}

TEST(YamlText, StringsThatYamlWouldReadAsAnotherTypeAreQuoted) {
  for (const char* s : {"true",
                        "yes",
                        "Y",
                        "on",
                        "OFF",
                        "null",
                        "~",
                        "",
                        "8080",
                        "0755",
                        "1e3",
                        ".5",
                        "-1",
                        "2/3",
                        "2024-01-01",
                        ".inf",
                        "derived:latest",
                        "a: b",
                        "- x",
                        "#x",
                        "*x",
                        "&x",
                        "!x",
                        "%x",
                        "@x",
                        "`x",
                        "{x}",
                        "[x]",
                        "x y",
                        "'x'"}) {
    EXPECT_FALSE(PlainSafe(s)) << s;
    auto yaml = ToYaml(Object{{"v", s}});
    ASSERT_TRUE(yaml.ok()) << s;
    YAML::Node v = YAML::Load(*yaml)["v"];
    EXPECT_EQ(v.Scalar(), s);
    EXPECT_EQ(v.Tag(), "!") << s << " was written plain: " << *yaml;
  }
  for (const char* s :
       {"derived", "/healthz", "--project", "core.daily_orders", "app.kubernetes.io/name", "_x"}) {
    EXPECT_TRUE(PlainSafe(s)) << s;
  }
}

TEST(YamlText, AnyTextReadsBackExactly) {
  for (std::string text :
       {std::string("name: shop\nwarehouse: {engine: postgres}\n"), std::string("  indented first\nline\n"),
        std::string("no final newline"), std::string("two final newlines\n\n"),
        std::string("\nleading blank\n"), std::string("crlf\r\nline\r\n"),
        std::string("tab\tinside\n\tand leading\n"), std::string("---\n...\n"),
        std::string("# a comment\nkey: value\n"), std::string("line sep \xE2\x80\xA8 inside\n"),
        std::string("caf\xC3\xA9 \xF0\x9F\x98\x80\n"), std::string("ctrl \x01 char\n"),
        std::string("trailing  \n"), std::string("{{ window_start }} AND '%' \\ \"q\"\n")}) {
    auto yaml = ToYaml(Object{{"data", {{"f", text}}}, {"n", 1}, {"b", true}});
    ASSERT_TRUE(yaml.ok()) << yaml.error().message;
    YAML::Node back = YAML::Load(*yaml);
    EXPECT_EQ(back["data"]["f"].Scalar(), text) << *yaml;
    EXPECT_EQ(back["n"].Scalar(), "1");
    EXPECT_EQ(back["b"].Scalar(), "true");
  }
  EXPECT_FALSE(ToYaml(Object{{"x", 1.5}}).ok());
}

TEST(ProjectFiles, AreTheFilesTheLoaderReadInsideTheProject) {
  Project p;
  p.warehouse.engine = WarehouseEngine::kPostgres;
  TableDef a;
  a.dataset = "core";
  a.name = "a";
  a.file = "tables/core/a.yaml";
  a.sql = {"SELECT 1", "sql/a.sql", 1};
  TableDef b = a;
  b.name = "b";
  b.file = "tables/core/b.yaml";
  b.sql = {"SELECT 1", "tables/core/b.yaml", 3};
  SourceDef s;
  s.file = "sources/raw/events.yml";
  p.tables = {a, b};
  p.sources = {s};
  p.macros = {{"macros/util/m.sql", ""}};
  auto paths = ProjectFilePaths(p);
  ASSERT_TRUE(paths.ok()) << paths.error().message;
  EXPECT_EQ(*paths, (std::vector<std::string>{"derived.yaml", "macros/util/m.sql", "sources/raw/events.yml",
                                              "sql/a.sql", "tables/core/a.yaml", "tables/core/b.yaml"}));
  p.tables[0].sql.file = "../shared/a.sql";
  paths = ProjectFilePaths(p);
  ASSERT_FALSE(paths.ok());
  EXPECT_THAT(paths.error().message,
              HasSubstr("../shared/a.sql (the sql_file of core.a) is outside the project"));
}

}  // namespace
}  // namespace derived::deploy
