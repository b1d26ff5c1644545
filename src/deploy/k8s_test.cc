#include "deploy/k8s.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "deploy/k8s_names.h"
#include "fleet/shard.h"
#include "k8s_coverage.h"
#include "k8s_schema.h"

namespace derived::deploy {
namespace {

using ::testing::HasSubstr;
using testing::K8sManifestProblems;
using testing::TablesServed;

Project PostgresProject(
    const std::vector<std::string>& tables,
    const std::string& dsn = "host=db.internal dbname=analytics user=derived password=${PGPASSWORD}") {
  Project p;
  p.name = "Shop";
  p.root = "/nonexistent";
  p.warehouse.engine = WarehouseEngine::kPostgres;
  p.warehouse.dsn = dsn;
  for (const auto& q : tables) {
    TableDef t;
    t.dataset = q.substr(0, q.find('.'));
    t.name = q.substr(q.find('.') + 1);
    t.file = "tables/" + t.dataset + "/" + t.name + ".yaml";
    t.sql = {"SELECT 1 AS x", t.file, 1};
    p.tables.push_back(std::move(t));
  }
  std::sort(p.tables.begin(), p.tables.end(),
            [](const TableDef& a, const TableDef& b) { return a.qualified_name() < b.qualified_name(); });
  return p;
}

std::vector<ProjectFile> FilesOf(const Project& p) {
  std::vector<ProjectFile> files = {
      {"derived.yaml", "name: Shop\nwarehouse: {engine: postgres, dsn: \"" + p.warehouse.dsn + "\"}\n"}};
  for (const auto& t : p.tables) files.push_back({t.file, "schedule: daily\nsql: SELECT 1 AS x\n"});
  return files;
}

std::vector<std::string> ManyTables(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(fmt::format("{}.t{}", i % 3 == 0 ? "core" : "mart", i));
  return out;
}

// The emitted text of every manifest, as `deploy k8s` writes it.
std::vector<std::pair<std::string, std::string>> Texts(const K8sManifests& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& x : m.manifests) {
    auto yaml = ToYaml(x.object);
    EXPECT_TRUE(yaml.ok()) << x.file << ": " << yaml.error().message;
    if (yaml.ok()) out.emplace_back(x.file, *yaml);
  }
  return out;
}

std::vector<YAML::Node> Parsed(const std::vector<std::pair<std::string, std::string>>& texts) {
  std::vector<YAML::Node> out;
  for (const auto& [file, text] : texts) out.push_back(YAML::Load(text));
  return out;
}

std::string Problems(const std::vector<std::string>& problems) {
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  return all;
}

// Every table served once, every object valid: the test the issue asks for.
void ExpectValidAndCovering(const Project& project, const K8sManifests& m, int* deployments = nullptr,
                            int* empty = nullptr) {
  auto texts = Texts(m);
  auto problems = K8sManifestProblems(texts);
  EXPECT_TRUE(problems.empty()) << Problems(problems);
  auto coverage = TablesServed(Parsed(texts));
  EXPECT_TRUE(coverage.problems.empty()) << Problems(coverage.problems);
  for (const auto& t : project.tables) EXPECT_EQ(coverage.times[t.qualified_name()], 1) << t.qualified_name();
  EXPECT_EQ(coverage.times.size(), project.tables.size());
  if (deployments) *deployments = coverage.deployments;
  if (empty) *empty = coverage.empty;
}

const Object& Container(const Object& deployment, const std::string& name) {
  for (const auto& c : deployment["spec"]["template"]["spec"]["containers"]) {
    if (c["name"] == name) return c;
  }
  static const Object kNone;
  return kNone;
}

TEST(K8s, APerTableDeploymentRunsTheContractProcessWithOwnerSecretProbesAndMetrics) {
  Project p = PostgresProject({"core.daily_orders", "mart.revenue"},
                              "host=db user=derived password=${PGPASSWORD} sslpassword=${KEY_PASS}");
  auto m = BuildK8sManifests(p, FilesOf(p), {}, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  ASSERT_EQ(m->manifests.size(), 3u);
  EXPECT_EQ(m->manifests[0].object["kind"], "ConfigMap");
  EXPECT_EQ(m->manifests[0].file, "configmap-shop-project.yaml");
  const Object& d = m->manifests[1].object;
  EXPECT_EQ(m->manifests[1].file, "deployment-derived-core-daily-orders.yaml");
  EXPECT_EQ(d["metadata"]["name"], "derived-core-daily-orders");
  const Object& c = Container(d, "derived");
  EXPECT_EQ(c["command"], Object::array({"derived"}));
  EXPECT_EQ(c["args"],
            Object::array({"update", "core.daily_orders", "--project", "/project", "--health-port", "8080"}));
  EXPECT_EQ(c["env"][0], Object({{"name", "DERIVED_OWNER"},
                                 {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}));
  EXPECT_EQ(c["env"][1]["valueFrom"]["secretKeyRef"],
            Object({{"name", "shop-warehouse"}, {"key", "PGPASSWORD"}}));
  EXPECT_EQ(c["env"][2]["valueFrom"]["secretKeyRef"],
            Object({{"name", "shop-warehouse"}, {"key", "KEY_PASS"}}));
  EXPECT_EQ(c["livenessProbe"]["httpGet"], Object({{"path", "/healthz"}, {"port", 8080}}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"], Object({{"path", "/readyz"}, {"port", 8080}}));
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/project");
  const Object& pod_annotations = d["spec"]["template"]["metadata"]["annotations"];
  EXPECT_EQ(pod_annotations["prometheus.io/scrape"], "true");
  EXPECT_EQ(pod_annotations["prometheus.io/port"], "8080");
  EXPECT_EQ(pod_annotations["prometheus.io/path"], "/metrics");
  // The emitted text keeps the port an integer and the annotation a string.
  std::string yaml = *ToYaml(d);
  EXPECT_THAT(yaml, HasSubstr("port: 8080\n"));
  EXPECT_THAT(yaml, HasSubstr("prometheus.io/port: \"8080\""));
}

TEST(K8s, EveryProjectFileIsInTheConfigMapAndMountedAtItsPath) {
  Project p = PostgresProject({"core.a"});
  auto files = FilesOf(p);
  files.push_back({"macros/m.sql", "{% macro m() %}1{% endmacro %}"});
  files.push_back({"sql/latin1.sql", "SELECT 'caf\xE9' AS x\n"});  // not UTF-8: binaryData
  auto m = BuildK8sManifests(p, files, {}, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  const Object& cm = m->manifests[0].object;
  EXPECT_EQ(cm["data"]["derived.yaml"], files[0].bytes);
  EXPECT_EQ(cm["data"]["tables.core.a.yaml"], files[1].bytes);
  EXPECT_EQ(cm["data"]["macros.m.sql"], files[2].bytes);
  EXPECT_EQ(cm["binaryData"]["sql.latin1.sql"], "U0VMRUNUICdjYWbpJyBBUyB4Cg==");
  const Object& items =
      m->manifests[1].object["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"];
  ASSERT_EQ(items.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) EXPECT_EQ(items[i]["path"], files[i].path);
}

TEST(K8s, GroupsServeEveryTableExactlyOnceAsRunShardSplitsThem) {
  Project p = PostgresProject(ManyTables(23));
  for (int n : {1, 2, 3, 7, 23, 40, 10000}) {
    SCOPED_TRACE(n);
    K8sOptions o;
    o.groups = n;
    auto m = BuildK8sManifests(p, FilesOf(p), {}, o);
    ASSERT_TRUE(m.ok()) << m.error().message;
    int deployments = 0, empty = 0;
    ExpectValidAndCovering(p, *m, &deployments, &empty);
    // From a ConfigMap, a shard without tables gets no Deployment.
    EXPECT_EQ(empty, 0);
    std::set<int> used;
    for (const auto& t : p.tables) used.insert(fleet::ShardOf(t.qualified_name(), n));
    EXPECT_EQ(deployments, static_cast<int>(used.size()));
    if (static_cast<int>(used.size()) < n) {
      EXPECT_THAT(m->notes.at(0), HasSubstr("serve no table"));
    }
    const Object& d = m->manifests[1].object;
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["args"][0], "run");
  }
}

TEST(K8s, FromGitEveryShardHasItsProcessSinceACommitCanAddATableToIt) {
  Project p = PostgresProject(ManyTables(5));
  K8sOptions o;
  o.groups = 12;
  o.git_repo = "https://git.example.com/data/shop.git";
  o.git_branch = "prod";
  auto m = BuildK8sManifests(p, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  int deployments = 0, empty = 0;
  ExpectValidAndCovering(p, *m, &deployments, &empty);
  EXPECT_EQ(deployments, 12);
  EXPECT_GE(empty, 7);
  for (const auto& x : m->manifests) EXPECT_NE(x.object["kind"], "ConfigMap");
}

TEST(K8s, GitSyncAddsAnInitCloneASidecarAndASharedVolumeAndFollowsItsBranch) {
  Project p = PostgresProject({"core.a"});
  K8sOptions o;
  o.git_repo = "https://git.example.com/data/shop.git";
  o.git_branch = "release/2024";
  auto m = BuildK8sManifests(p, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  ASSERT_EQ(m->manifests.size(), 1u);
  const Object& pod = m->manifests[0].object["spec"]["template"]["spec"];
  EXPECT_EQ(pod["volumes"][0], Object({{"name", "project"}, {"emptyDir", Object::object()}}));
  EXPECT_EQ(pod["initContainers"][0]["image"], kGitSyncImage);
  EXPECT_THAT(pod["initContainers"][0]["args"].dump(), HasSubstr("--one-time"));
  const Object& sidecar = Container(m->manifests[0].object, "git-sync");
  EXPECT_EQ(sidecar["args"][0], "--repo=https://git.example.com/data/shop.git");
  EXPECT_EQ(sidecar["args"][1], "--ref=release/2024");
  EXPECT_EQ(sidecar["args"][2], "--root=/project");
  const Object& c = Container(m->manifests[0].object, "derived");
  EXPECT_EQ(c["args"], Object::array({"update", "core.a", "--project", "/project", "--health-port", "8080",
                                      "--branch", kGitSyncLocalBranch}));
  EXPECT_FALSE(c["volumeMounts"][0].contains("readOnly"));
}

TEST(K8s, AProjectTooLargeForAConfigMapIsRefusedPointingToGitSync) {
  Project p = PostgresProject({"core.a"});
  auto files = FilesOf(p);
  files.push_back({"macros/big.sql", std::string(kMaxConfigMapBytes, 'x')});
  auto m = BuildK8sManifests(p, files, {}, {});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("1 MiB"));
  EXPECT_THAT(m.error().message, HasSubstr("--git-sync REPO_URL"));
  K8sOptions o;
  o.git_repo = "git@git.example.com:data/shop.git";
  EXPECT_TRUE(BuildK8sManifests(p, files, {}, o).ok());
}

TEST(K8s, AnEmbeddedDuckDbWarehouseIsRefused) {
  Project p = PostgresProject({"core.a"});
  p.warehouse.engine = WarehouseEngine::kDuckDb;
  auto m = BuildK8sManifests(p, FilesOf(p), {}, {});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("shared warehouse"));
}

TEST(K8s, CpuRequestsFollowTheLoggedRunTimesWithinTheFloorAndCap) {
  EXPECT_EQ(CpuRequestMillis(0, kRunTimePeriodSeconds, 1000), kCpuFloorMillis);
  EXPECT_EQ(CpuRequestMillis(-5, kRunTimePeriodSeconds, 1000), kCpuFloorMillis);
  EXPECT_EQ(CpuRequestMillis(kRunTimePeriodSeconds / 4, kRunTimePeriodSeconds, 1000), 250);
  EXPECT_EQ(CpuRequestMillis(kRunTimePeriodSeconds * 3, kRunTimePeriodSeconds, 1000), 1000);
  EXPECT_EQ(CpuRequestMillis(kRunTimePeriodSeconds * 3, kRunTimePeriodSeconds, 4000), 3000);

  Project p = PostgresProject({"core.a", "core.b", "core.c"});
  RunTimes runs;
  runs.seconds = {{"core.a", kRunTimePeriodSeconds / 2}, {"core.b", 10}};
  K8sOptions o;
  o.memory = "1Gi";
  auto m = BuildK8sManifests(p, FilesOf(p), runs, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  auto requests = [&](size_t i) {
    return Container(m->manifests[i].object, "derived")["resources"]["requests"];
  };
  EXPECT_EQ(requests(1), Object({{"cpu", "500m"}, {"memory", "1Gi"}}));
  EXPECT_EQ(requests(2)["cpu"], "50m");
  EXPECT_EQ(Container(m->manifests[1].object, "derived")["resources"]["limits"], Object({{"memory", "1Gi"}}));
  EXPECT_THAT(m->manifests[1].object["metadata"]["annotations"]["derived/resources"].get<std::string>(),
              HasSubstr("302400.00 s of builds logged in the last 7 days"));

  // A group adds its tables' times.
  o.groups = 1;
  m = BuildK8sManifests(p, FilesOf(p), runs, o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(requests(1)["cpu"], "501m");

  RunTimes unknown;
  unknown.unknown_because = "the warehouse could not be opened: connection refused";
  m = BuildK8sManifests(p, FilesOf(p), unknown, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(requests(1)["cpu"], "50m");
  EXPECT_THAT(m->manifests[1].object["metadata"]["annotations"]["derived/resources"].get<std::string>(),
              HasSubstr("connection refused"));
}

TEST(K8s, NamesAreDnsLabelsEvenForLongAndCollidingTables) {
  std::string long_name = "core." + std::string(80, 'x');
  Project p = PostgresProject({"core.daily_orders", "core.daily__orders", "core_daily.orders", long_name});
  auto m = BuildK8sManifests(p, FilesOf(p), {}, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  std::set<std::string> names;
  for (size_t i = 1; i < m->manifests.size(); ++i) {
    std::string name = m->manifests[i].object["metadata"]["name"];
    EXPECT_TRUE(IsDnsLabel(name)) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 4u);

  // Any project name makes valid object, label and Secret names.
  for (const std::string& project_name : {std::string("___"), "Big Data Warehouse " + std::string(90, 'w')}) {
    p.name = project_name;
    m = BuildK8sManifests(p, FilesOf(p), {}, {});
    ASSERT_TRUE(m.ok()) << m.error().message;
    ExpectValidAndCovering(p, *m);
    std::string secret = Container(m->manifests[1].object, "derived")["env"][1]["valueFrom"]["secretKeyRef"]["name"];
    EXPECT_TRUE(IsDnsLabel(secret)) << secret;
  }
}

TEST(K8s, NamespaceAndSecretNameGoWhereAsked) {
  Project p = PostgresProject({"core.a"});
  K8sOptions o;
  o.namespace_name = "analytics";
  o.secret = "pg-credentials";
  auto m = BuildK8sManifests(p, FilesOf(p), {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ExpectValidAndCovering(p, *m);
  for (const auto& x : m->manifests) EXPECT_EQ(x.object["metadata"]["namespace"], "analytics");
  EXPECT_EQ(Container(m->manifests[1].object, "derived")["env"][1]["valueFrom"]["secretKeyRef"]["name"],
            "pg-credentials");
}

TEST(K8s, ADsnWithoutVariablesReferencesNoSecretAndSaysSo) {
  Project p = PostgresProject({"core.a"}, "host=db user=derived");
  auto m = BuildK8sManifests(p, FilesOf(p), {}, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(Container(m->manifests[1].object, "derived")["env"].size(), 1u);
  EXPECT_THAT(m->notes.at(0), HasSubstr("no Secret"));
}

TEST(K8s, BadOptionsAreRefusedNamingTheOption) {
  auto refused = [](K8sOptions o) {
    auto st = CheckK8sOptions(o);
    return st.ok() ? std::string() : st.error().message;
  };
  EXPECT_EQ(refused({}), "");
  K8sOptions o;
  o.namespace_name = "Analytics";
  EXPECT_THAT(refused(o), HasSubstr("--namespace"));
  o = {};
  o.secret = "pg_secret";
  EXPECT_THAT(refused(o), HasSubstr("--secret"));
  for (const char* memory : {"lots", "0", "-1Gi", "256MB", ""}) {
    o = {};
    o.memory = memory;
    EXPECT_THAT(refused(o), HasSubstr("--memory")) << memory;
  }
  for (const char* image : {"", "derived latest"}) {
    o = {};
    o.image = image;
    EXPECT_THAT(refused(o), HasSubstr("--image")) << image;
  }
  for (const char* branch : {"", "a..b", "x.lock", "-x", "a b", "a:b"}) {
    o = {};
    o.git_branch = branch;
    EXPECT_THAT(refused(o), HasSubstr("--branch")) << branch;
  }
  o = {};
  o.git_repo = "--upload-pack=evil";
  EXPECT_THAT(refused(o), HasSubstr("--git-sync"));
  o = {};
  o.groups = fleet::kMaxShards + 1;
  EXPECT_THAT(refused(o), HasSubstr("--groups"));
}

// The validator must see what it looks for: planted mistakes are found.
TEST(K8sSchema, FindsPlantedMistakes) {
  Project p = PostgresProject({"core.a"});
  auto m = BuildK8sManifests(p, FilesOf(p), {}, {});
  ASSERT_TRUE(m.ok());
  auto problems_after = [&](auto&& mutate) {
    K8sManifests copy = *m;
    mutate(copy.manifests[0].object, copy.manifests[1].object);
    return Problems(K8sManifestProblems(Texts(copy)));
  };
  EXPECT_EQ(problems_after([](Object&, Object&) {}), "");
  auto container = [](Object& d) -> Object& { return d["spec"]["template"]["spec"]["containers"][0]; };
  EXPECT_THAT(problems_after([&](Object&, Object& d) { container(d)["ports"][0]["containerPort"] = "8080"; }),
              HasSubstr("containerPort: must be an integer"));
  EXPECT_THAT(problems_after([&](Object&, Object& d) { container(d).erase("image"); }),
              HasSubstr("image: is required"));
  EXPECT_THAT(
      problems_after([&](Object&, Object& d) { container(d)["resources"]["requests"]["memory"] = "256MB"; }),
      HasSubstr("is not a quantity"));
  EXPECT_THAT(
      problems_after([&](Object&, Object& d) { container(d)["resources"]["limits"]["memory"] = "1Mi"; }),
      HasSubstr("request exceeds its limit"));
  EXPECT_THAT(problems_after([&](Object&, Object& d) {
                container(d)["readinesProbe"] = container(d)["readinessProbe"];
              }),
              HasSubstr("unknown field 'readinesProbe'"));
  EXPECT_THAT(
      problems_after([&](Object&, Object& d) { container(d)["livenessProbe"]["httpGet"]["port"] = "web"; }),
      HasSubstr("names no port"));
  EXPECT_THAT(problems_after([&](Object&, Object& d) {
                container(d)["env"][1]["valueFrom"]["secretKeyRef"].erase("key");
              }),
              HasSubstr("secretKeyRef.key: is required"));
  EXPECT_THAT(
      problems_after([&](Object&, Object& d) { d["spec"]["selector"]["matchLabels"]["extra"] = "x"; }),
      HasSubstr("does not match the selector"));
  EXPECT_THAT(problems_after([&](Object&, Object& d) { d["metadata"]["name"] = "Derived_A"; }),
              HasSubstr("is not a DNS-1123 label"));
  EXPECT_THAT(
      problems_after([&](Object&, Object& d) { d["metadata"]["labels"]["derived/deployment"] = "-x"; }),
      HasSubstr("bad label value"));
  EXPECT_THAT(problems_after([&](Object& cm, Object&) { cm["data"]["bad key"] = "x"; }),
              HasSubstr("invalid key"));
  EXPECT_THAT(problems_after([&](Object& cm, Object&) { cm["data"].erase("derived.yaml"); }),
              HasSubstr("item key derived.yaml is not in ConfigMap"));
  EXPECT_THAT(
      problems_after([&](Object& cm, Object&) { cm["data"]["big"] = std::string(kMaxConfigMapBytes, 'x'); }),
      HasSubstr("more than 1 MiB"));
}

}  // namespace
}  // namespace derived::deploy
