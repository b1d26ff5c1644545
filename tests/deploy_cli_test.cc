// End-to-end tests of `derived deploy k8s`: the real binary on real projects writes
// manifests that pass the Kubernetes object schema check (k8s_schema.h) and cover every
// table exactly once; bad usage writes nothing. The manifests are not applied here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine_testing.h"
#include "k8s_coverage.h"
#include "k8s_schema.h"
#include "postgres_testing.h"
#include "testing.h"

namespace derived {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::K8sManifestProblems;
using ::testing::Not;
using testing::RunDerived;
using testing::TablesServed;
using testing::TempDir;

// A PostgreSQL project on a server nobody listens on (loopback port 1): deploy must not
// need it. Seven tables, one with a sql_file, one macro.
void WriteShop(const TempDir& dir, const std::string& dsn =
                                       "host=127.0.0.1 port=1 dbname=shop user=derived "
                                       "password=${PGPASSWORD}") {
  dir.Write("derived.yaml", "name: shop\nwarehouse: {engine: postgres, dsn: \"" + dsn +
                                "\"}\ndefaults: {start: 2024-01-01, schedule: daily}\n");
  dir.Write("sources/raw/orders.yaml", R"(freshness: marker
time_column: ts
columns:
  - {name: ts, type: TIMESTAMP}
  - {name: amount, type: FLOAT8}
)");
  dir.Write("macros/money.sql", "{% macro cents(c) %}round({{ c }} * 100){% endmacro %}\n");
  dir.Write("tables/core/Daily_orders.yaml", R"(strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, {{ cents('sum(amount)') }} AS cents
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1
)");
  dir.Write("tables/core/totals.yaml", "sql_file: ../../sql/totals.sql\n");
  dir.Write("sql/totals.sql", "SELECT sum(cents) AS cents FROM core.daily_orders\n");
  for (const char* t : {"a", "b", "c", "d", "e"}) {
    dir.Write(std::string("tables/mart/") + t + ".yaml", "sql: SELECT cents FROM core.totals\n");
  }
}
const std::set<std::string> kShopTables = {
    "core.daily_orders", "core.totals", "mart.a", "mart.b", "mart.c", "mart.d", "mart.e"};

std::vector<std::pair<std::string, std::string>> ReadManifests(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    out.emplace_back(e.path().filename().string(), ss.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Lines(const std::vector<std::string>& v) {
  std::string all;
  for (const auto& s : v) all += s + "\n";
  return all;
}

// The manifests in `dir` are valid objects and serve each of `tables` exactly once.
testing::Coverage ExpectValidCovering(const fs::path& dir, const std::set<std::string>& tables) {
  auto files = ReadManifests(dir);
  auto problems = K8sManifestProblems(files);
  EXPECT_TRUE(problems.empty()) << Lines(problems);
  std::vector<YAML::Node> objects;
  for (const auto& [file, text] : files) objects.push_back(YAML::Load(text));
  auto coverage = TablesServed(objects);
  EXPECT_TRUE(coverage.problems.empty()) << Lines(coverage.problems);
  for (const auto& t : tables) EXPECT_EQ(coverage.times[t], 1) << t;
  EXPECT_EQ(coverage.times.size(), tables.size());
  return coverage;
}

std::set<std::string> Listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

TEST(DeployCli, PerTableManifestsAreValidAndCoverEveryTableWithoutAReachableWarehouse) {
  TempDir project, out;
  WriteShop(project);
  auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", out.str() + "/k8s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: no run times: the warehouse could not be opened"));
  EXPECT_THAT(r.out, HasSubstr("wrote 8 manifests"));
  auto coverage = ExpectValidCovering(out.path() / "k8s", kShopTables);
  EXPECT_EQ(coverage.deployments, 7);
  std::string cm = out.Read("k8s/configmap-shop-project.yaml");
  // Every file the loader reads, the sql_file and the macro included.
  for (const char* key :
       {"derived.yaml", "sources.raw.orders.yaml", "macros.money.sql", "tables.core.Daily_orders.yaml",
        "tables.core.totals.yaml", "sql.totals.sql", "tables.mart.e.yaml"}) {
    EXPECT_THAT(cm, HasSubstr(std::string("\n  ") + key + ":")) << key;
  }
  std::string d = out.Read("k8s/deployment-derived-core-daily-orders.yaml");
  EXPECT_THAT(
      d,
      HasSubstr("- update\n            - core.daily_orders\n            - --project\n            - /project\n"
                "            - --health-port\n            - \"8080\"\n"));
  EXPECT_THAT(d, HasSubstr("name: shop-warehouse\n                  key: PGPASSWORD"));
  EXPECT_THAT(d, HasSubstr("cpu: \"50m\""));
}

TEST(DeployCli, GroupsCoverEveryTableExactlyOnceForAnyN) {
  TempDir project, out;
  WriteShop(project);
  for (int n : {1, 2, 3, 7, 20}) {
    SCOPED_TRACE(n);
    std::string dir = out.str() + "/g" + std::to_string(n);
    auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--groups", std::to_string(n), "--out",
                         dir, "--no-log"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto coverage = ExpectValidCovering(dir, kShopTables);
    EXPECT_EQ(coverage.empty, 0);  // no Deployment for a shard without tables
    EXPECT_LE(coverage.deployments, std::min(n, 7));
    if (n == 20) {
      EXPECT_THAT(r.err, HasSubstr("serve no table"));
    }
  }
  // From git, every shard has its process, the empty ones too.
  auto r =
      RunDerived({"deploy", "k8s", "--project", project.str(), "--groups", "20", "--out", out.str() + "/git",
                  "--no-log", "--git-sync", "https://git.example.com/shop.git", "--branch", "prod"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto coverage = ExpectValidCovering(out.path() / "git", kShopTables);
  EXPECT_EQ(coverage.deployments, 20);
  EXPECT_GE(coverage.empty, 13);
}

TEST(DeployCli, AProjectTooLargeForAConfigMapIsRefusedAndDeploysFromGit) {
  TempDir project, out;
  WriteShop(project);
  project.Write("macros/big.sql", "{# " + std::string(1100 * 1024, 'x') + " #}\n");
  auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", out.str() + "/k8s", "--no-log"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("more than the 1048576 (1 MiB) a ConfigMap holds"));
  EXPECT_THAT(r.err, HasSubstr("--git-sync REPO_URL"));
  EXPECT_TRUE(Listing(out.path()).empty());

  r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", out.str() + "/k8s", "--no-log",
                  "--git-sync", "git@git.example.com:data/shop.git"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectValidCovering(out.path() / "k8s", kShopTables);
  std::string d = out.Read("k8s/deployment-derived-mart-a.yaml");
  EXPECT_THAT(d, HasSubstr("--ref=main"));
  EXPECT_THAT(d, HasSubstr("- --branch\n            - git-sync\n"));
}

TEST(DeployCli, AnEmbeddedDuckDbWarehouseIsRefused) {
  TempDir project, out;
  WriteShop(project);
  project.Write("derived.yaml",
                "name: shop\nwarehouse: {engine: duckdb, path: shop.duckdb}\ndefaults: {start: "
                "2024-01-01, schedule: daily}\n");
  auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", out.str() + "/k8s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("embedded duckdb file"));
  EXPECT_THAT(r.err, HasSubstr("need a shared warehouse"));
  EXPECT_TRUE(Listing(out.path()).empty());
  EXPECT_FALSE(fs::exists(project.path() / "shop.duckdb"));
}

TEST(DeployCli, BadUsageExitsTwoAndWritesNothing) {
  TempDir project, out;
  WriteShop(project);
  out.Write("file", "x");
  out.Write("mine/notes.txt", "keep");
  const std::string k8s = out.str() + "/k8s";
  const std::vector<std::vector<std::string>> cases = {
      {"--groups", "0"},
      {"--groups", "10001"},
      {"--groups", "-3"},
      {"--groups", "many"},
      {"--per-table", "--groups", "2"},
      {"--bogus"},
      {"--branch", "prod"},  // without --git-sync
      {"--namespace", "Analytics"},
      {"--memory", "lots"},
      {"--secret", "pg_secret"},
      {"--git-sync", "https://git.example.com/x.git", "--branch", "a..b"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = {"deploy", "k8s", "--project", project.str(), "--out", k8s, "--no-log"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = RunDerived(args);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  for (const std::string& bad_out :
       {out.str() + "/file/k8s", out.str() + "/missing/k8s", out.str() + "/mine", out.str() + "/file"}) {
    auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", bad_out, "--no-log"});
    EXPECT_EQ(r.exit_code, 2) << bad_out << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--out"));
  }
  EXPECT_EQ(Listing(out.path()), (std::set<std::string>{"file", "mine"}));
  EXPECT_EQ(out.Read("mine/notes.txt"), "keep");
  auto r = RunDerived({"deploy", "k8s", "--groups"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(DeployCli, ARunReplacesItsOwnManifestsAndRemovesStaleOnes) {
  TempDir project, out;
  WriteShop(project);
  std::string k8s = out.str() + "/k8s";
  ASSERT_EQ(RunDerived({"deploy", "k8s", "--project", project.str(), "--out", k8s, "--no-log"}).exit_code, 0);
  EXPECT_EQ(Listing(k8s).size(), 9u);  // marker, ConfigMap, 7 Deployments
  auto r =
      RunDerived({"deploy", "k8s", "--project", project.str(), "--out", k8s, "--no-log", "--groups", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Listing(k8s), (std::set<std::string>{".derived-deploy", "configmap-shop-project.yaml",
                                                 "deployment-derived-shard-0-of-1.yaml"}));
  EXPECT_EQ(Listing(out.path()), (std::set<std::string>{"k8s"}));
}

TEST(DeployCli, AProjectThatDoesNotLoadIsNotDeployed) {
  TempDir project, out;
  WriteShop(project);
  project.Write("tables/mart/broken.yaml", "sql: [not, a, string\n");
  auto r = RunDerived({"deploy", "k8s", "--project", project.str(), "--out", out.str() + "/k8s", "--no-log"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/mart/broken.yaml"));
  EXPECT_THAT(r.err, HasSubstr("nothing written"));
  EXPECT_TRUE(Listing(out.path()).empty());
}

// Requests come from the log, read through the warehouse like `derived log` reads it.
TEST(DeployCli, CpuRequestsComeFromRecentRunTimesInTheLog) {
  testing::WarehouseProject p(WarehouseEngine::kPostgres);
  p.Write("tables/core/a.yaml", "schedule: daily\nstart: 2024-01-01\nsql: SELECT 1 AS x\n");
  p.Write("tables/core/b.yaml", "schedule: daily\nstart: 2024-01-01\nsql: SELECT 2 AS x\n");
  ASSERT_EQ(p.Derived({"log"}).exit_code, 0);  // creates _derived
  // Half of the last week building core.a; a run of core.b too old to count.
  p.Sql(
      "INSERT INTO _derived.log (run_id, table_name, operation, status, started_at, finished_at) VALUES "
      "('r1', 'core.a', 'replace', 'success', CURRENT_TIMESTAMP AT TIME ZONE 'UTC' - INTERVAL '84 hours', "
      "CURRENT_TIMESTAMP AT TIME ZONE 'UTC'), "
      "('r2', 'core.b', 'replace', 'success', CURRENT_TIMESTAMP AT TIME ZONE 'UTC' - INTERVAL '20 days', "
      "CURRENT_TIMESTAMP AT TIME ZONE 'UTC' - INTERVAL '10 days')");
  TempDir out;
  auto r = p.Derived({"deploy", "k8s", "--out", out.str() + "/k8s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("warning")));
  EXPECT_THAT(r.err, HasSubstr("no Secret is referenced"));  // the test server's dsn has no ${VAR}
  ExpectValidCovering(out.path() / "k8s", {"core.a", "core.b"});
  std::string a = out.Read("k8s/deployment-derived-core-a.yaml");
  EXPECT_THAT(a, HasSubstr("cpu: \"500m\""));
  EXPECT_THAT(a, HasSubstr("302400.00 s of builds logged in the last 7 days"));
  EXPECT_THAT(out.Read("k8s/deployment-derived-core-b.yaml"), HasSubstr("cpu: \"50m\""));
}

}  // namespace
}  // namespace derived
