#include "deploy/k8s.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "deploy/k8s_names.h"
#include "fleet/shard.h"
#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived::deploy {
namespace {

// One Deployment: the process it runs and the tables that process serves.
struct Workload {
  std::string name;
  std::string component;          // "table" or "shard"
  std::vector<std::string> args;  // after `derived`
  std::vector<std::string> tables;
  std::optional<fleet::Shard> shard;
};

bool Printable(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

// git check-ref-format's rules for a branch name, in short.
bool IsBranchName(std::string_view b) {
  if (!Printable(b) || b.front() == '-' || b.front() == '/' || b.back() == '/' || b.back() == '.' ||
      EndsWith(b, ".lock") || b == "@") {
    return false;
  }
  for (std::string_view bad : {"..", "//", "@{", "/."}) {
    if (b.find(bad) != std::string_view::npos) return false;
  }
  return b.find_first_of("~^:?*[\\") == std::string_view::npos;
}

// The project's name as a label value and the first part of object names ("shop"): at
// most 53 characters, leaving room for "-warehouse".
std::string ProjectLabel(const Project& project) {
  constexpr size_t kMax = kMaxLabelLength - 10;
  std::string words = DnsWords(project.name);
  if (!words.empty() && words.size() <= kMax) return words;
  std::string suffix = (words.empty() ? "project-" : "-") + ShortHash(project.name);
  words.resize(std::min(words.size(), kMax - suffix.size()));
  while (!words.empty() && words.back() == '-') words.pop_back();
  return words + suffix;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += len;
  }
  return true;
}

Object Metadata(const std::string& name, const K8sOptions& options, Object labels, Object annotations) {
  Object m = {{"name", name}};
  if (!options.namespace_name.empty()) m["namespace"] = options.namespace_name;
  m["labels"] = std::move(labels);
  if (!annotations.empty()) m["annotations"] = std::move(annotations);
  return m;
}

Object CommonLabels(const std::string& project_label) {
  return {{"app.kubernetes.io/name", "derived"},
          {"app.kubernetes.io/instance", project_label},
          {"app.kubernetes.io/managed-by", "derived"}};
}

Object HttpProbe(const char* path, int period, int failures) {
  return {{"httpGet", {{"path", path}, {"port", kHealthPort}}},
          {"periodSeconds", period},
          {"timeoutSeconds", 5},
          {"failureThreshold", failures}};
}

Object GitSyncContainer(const char* name, const K8sOptions& options, bool one_time) {
  Object args = Object::array(
      {"--repo=" + options.git_repo, "--ref=" + options.git_branch, std::string("--root=") + kProjectMount});
  if (one_time) {
    args.push_back("--one-time");
  } else {
    // Keep serving the last synced commit while the remote cannot be reached.
    args.push_back("--period=10s");
    args.push_back("--max-failures=-1");
  }
  return {{"name", name},
          {"image", kGitSyncImage},
          {"args", std::move(args)},
          {"volumeMounts", Object::array({{{"name", "project"}, {"mountPath", kProjectMount}}})},
          {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "64Mi"}}}}},
          {"securityContext", {{"allowPrivilegeEscalation", false}}}};
}

// What the requests of a workload are, and why, for its annotation.
struct Resources {
  Object object;
  std::string why;
};

Resources ResourcesOf(const Workload& w, const RunTimes& runs, const K8sOptions& options) {
  int cap = w.shard ? kGroupCpuCapMillis : kTableCpuCapMillis;
  int millis = kCpuFloorMillis;
  std::string why;
  if (runs.unknown_because) {
    why = fmt::format("cpu {}m: the floor, since no run times were read ({})", millis, *runs.unknown_because);
  } else {
    double busy = 0;
    for (const auto& t : w.tables) {
      if (auto it = runs.seconds.find(t); it != runs.seconds.end()) busy += it->second;
    }
    millis = CpuRequestMillis(busy, kRunTimePeriodSeconds, cap);
    why = fmt::format(
        "cpu {}m: {:.2f} s of builds logged in the last 7 days, {:.3f}% of the time (at least {}m, at "
        "most {}m)",
        millis, busy, 100 * busy / kRunTimePeriodSeconds, kCpuFloorMillis, cap);
  }
  why += fmt::format("; memory {}", options.memory);
  Object object = {{"requests", {{"cpu", fmt::format("{}m", millis)}, {"memory", options.memory}}},
                   {"limits", {{"memory", options.memory}}}};
  return {std::move(object), why};
}

Object DeploymentOf(const Workload& w, const std::string& project_label, const std::string& secret,
                    const std::vector<std::string>& dsn_vars, const Object& volume, const RunTimes& runs,
                    const K8sOptions& options, const Project& project) {
  const bool git = !options.git_repo.empty();
  Object selector = {{"app.kubernetes.io/name", "derived"},
                     {"app.kubernetes.io/instance", project_label},
                     {"derived/deployment", w.name}};
  Object labels = CommonLabels(project_label);
  labels["app.kubernetes.io/component"] = w.component;
  labels["derived/deployment"] = w.name;
  Object pod_labels = selector;
  pod_labels["app.kubernetes.io/component"] = w.component;

  Resources resources = ResourcesOf(w, runs, options);
  Object annotations = {{"derived/project", project.name}};
  if (w.shard) {
    annotations["derived/shard"] = fmt::format("{}/{}", w.shard->index, w.shard->count);
    annotations["derived/tables"] = Join(w.tables, "\n");
  } else {
    annotations["derived/table"] = w.tables.at(0);
  }
  annotations["derived/resources"] = resources.why;
  if (git) annotations["derived/git"] = options.git_repo + " " + options.git_branch;

  Object env = Object::array(
      {{{"name", "DERIVED_OWNER"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}});
  for (const auto& var : dsn_vars) {
    env.push_back({{"name", var}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", var}}}}}});
  }
  Object args = Object::array();
  for (const auto& a : w.args) args.push_back(a);
  if (git) {
    args.push_back("--branch");
    args.push_back(kGitSyncLocalBranch);
    // The clone belongs to git-sync's user; git refuses another user's repository unless told.
    env.push_back({{"name", "GIT_CONFIG_COUNT"}, {"value", "1"}});
    env.push_back({{"name", "GIT_CONFIG_KEY_0"}, {"value", "safe.directory"}});
    env.push_back({{"name", "GIT_CONFIG_VALUE_0"}, {"value", kProjectMount}});
  }
  Object mount = {{"name", "project"}, {"mountPath", kProjectMount}};
  if (!git) mount["readOnly"] = true;
  Object derived = {
      {"name", "derived"},
      {"image", options.image},
      {"command", Object::array({"derived"})},
      {"args", std::move(args)},
      {"env", std::move(env)},
      {"ports", Object::array({{{"name", "http"}, {"containerPort", kHealthPort}, {"protocol", "TCP"}}})},
      // Loading and checking a large project takes a while: five minutes before liveness counts.
      {"startupProbe", HttpProbe("/healthz", 5, 60)},
      {"livenessProbe", HttpProbe("/healthz", 10, 3)},
      {"readinessProbe", HttpProbe("/readyz", 10, 3)},
      {"resources", std::move(resources.object)},
      {"volumeMounts", Object::array({std::move(mount)})},
      {"securityContext", {{"allowPrivilegeEscalation", false}}}};
  Object containers = Object::array({std::move(derived)});
  Object pod = Object::object();
  // Derived stops within its --grace (30 s by default) after SIGTERM, releasing its leases.
  pod["terminationGracePeriodSeconds"] = 60;
  if (git) {
    pod["initContainers"] = Object::array({GitSyncContainer("git-sync-init", options, true)});
    containers.push_back(GitSyncContainer("git-sync", options, false));
  }
  pod["containers"] = std::move(containers);
  pod["volumes"] = Object::array({volume});

  Object pod_annotations = {{"prometheus.io/scrape", "true"},
                            {"prometheus.io/port", std::to_string(kHealthPort)},
                            {"prometheus.io/path", "/metrics"}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", Metadata(w.name, options, std::move(labels), std::move(annotations))},
          {"spec",
           {{"replicas", 1},
            // The old pod stops (and releases its leases) before the new one starts: a
            // rolling update would wait for a new pod that cannot take the leases yet.
            {"strategy", {{"type", "Recreate"}}},
            {"selector", {{"matchLabels", std::move(selector)}}},
            {"template",
             {{"metadata", {{"labels", std::move(pod_labels)}, {"annotations", std::move(pod_annotations)}}},
              {"spec", std::move(pod)}}}}}};
}

std::vector<std::string> ProcessArgs(std::vector<std::string> head) {
  for (const char* a : {"--project", kProjectMount, "--health-port"}) head.push_back(a);
  head.push_back(std::to_string(kHealthPort));
  return head;
}

Result<std::vector<Workload>> Workloads(const Project& project, const K8sOptions& options,
                                        std::vector<std::string>* notes) {
  std::vector<std::string> tables;
  for (const auto& t : project.tables) tables.push_back(t.qualified_name());
  std::vector<Workload> out;
  if (options.groups == 0) {
    auto names = TableDeploymentNames(tables);
    for (const auto& t : tables) {
      out.push_back({names.at(t), "table", ProcessArgs({"update", t}), {t}, std::nullopt});
    }
    return out;
  }
  const int n = options.groups;
  std::vector<std::vector<std::string>> served(n);
  for (const auto& t : tables) served[fleet::ShardOf(t, n)].push_back(t);
  std::vector<std::string> empty;
  for (int k = 0; k < n; ++k) {
    // With the project in a ConfigMap, the tables change only when deploy runs again;
    // from git, a commit may add a table to any shard, so every shard has its process.
    if (served[k].empty()) {
      empty.push_back(std::to_string(k));
      if (options.git_repo.empty()) continue;
    }
    std::string shard = fmt::format("{}/{}", k, n);
    Workload w{fmt::format("derived-shard-{}-of-{}", k, n), "shard", ProcessArgs({"run", "--shard", shard}),
               served[k], fleet::Shard{k, n}};
    if (Join(w.tables, "\n").size() > kMaxTablesAnnotationBytes) {
      return Error(
          fmt::format("shard {} would serve {} tables, too many to list in one Deployment's annotations: "
                      "use more --groups",
                      shard, w.tables.size()));
    }
    out.push_back(std::move(w));
  }
  if (!empty.empty()) {
    notes->push_back(fmt::format(
        "{} of {} serve no table ({}): {}", Plural(static_cast<int64_t>(empty.size()), "shard"), n,
        empty.size() > 20 ? Join(std::vector<std::string>(empty.begin(), empty.begin() + 20), ", ") + ", ..."
                          : Join(empty, ", "),
        options.git_repo.empty() ? "no Deployment is written for them"
                                 : "each still gets a Deployment, since a commit can add a table to it"));
  }
  return out;
}

struct ProjectVolume {
  std::optional<Manifest> config_map;
  Object volume;
};

Result<ProjectVolume> ProjectVolumeOf(const std::vector<ProjectFile>& files, const std::string& project_label,
                                      const K8sOptions& options, const Project& project) {
  if (!options.git_repo.empty())
    return ProjectVolume{std::nullopt, {{"name", "project"}, {"emptyDir", Object::object()}}};
  std::vector<std::string> paths;
  size_t total = 0;
  for (const auto& f : files) {
    paths.push_back(f.path);
    total += f.bytes.size();
  }
  if (total > kMaxConfigMapBytes) {
    return Error(
        fmt::format("the project's {} files take {} bytes, more than the {} (1 MiB) a ConfigMap holds: "
                    "deliver the project from git instead, with --git-sync REPO_URL [--branch BRANCH]",
                    files.size(), total, kMaxConfigMapBytes));
  }
  auto keys = ConfigMapKeys(paths);
  std::string name = project_label + "-project";
  Object data = Object::object(), binary = Object::object(), items = Object::array();
  for (const auto& f : files) {
    const std::string& key = keys.at(f.path);
    if (data.contains(key) || binary.contains(key))
      return Error("two project files map to the ConfigMap key " + key);
    if (IsUtf8(f.bytes)) {
      data[key] = f.bytes;
    } else {
      binary[key] = Base64(f.bytes);
    }
    items.push_back({{"key", key}, {"path", f.path}});
  }
  Object cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                Metadata(name, options, CommonLabels(project_label), {{"derived/project", project.name}})}};
  if (!data.empty()) cm["data"] = std::move(data);
  if (!binary.empty()) cm["binaryData"] = std::move(binary);
  return ProjectVolume{Manifest{"configmap-" + name + ".yaml", std::move(cm)},
                       {{"name", "project"}, {"configMap", {{"name", name}, {"items", std::move(items)}}}}};
}

}  // namespace

int CpuRequestMillis(double busy_seconds, double period_seconds, int cap_millis) {
  double millis = period_seconds > 0 ? std::ceil(std::max(0.0, busy_seconds) / period_seconds * 1000) : 0;
  return static_cast<int>(
      std::clamp(millis, static_cast<double>(kCpuFloorMillis), static_cast<double>(cap_millis)));
}

bool IsQuantity(std::string_view text) {
  // k8s.io/apimachinery/pkg/api/resource: a signed decimal number and a binary-SI,
  // decimal-SI or exponent suffix.
  static const std::regex kQuantity(
      R"(^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$)");
  return std::regex_match(text.begin(), text.end(), kQuantity);
}

Status CheckK8sOptions(const K8sOptions& o) {
  if (o.groups < 0 || o.groups > fleet::kMaxShards) {
    return Error(fmt::format("--groups must be from 1 to {}, got {}", fleet::kMaxShards, o.groups));
  }
  if (!Printable(o.image))
    return Error(fmt::format("--image '{}': expected an image reference such as derived:1.2", o.image));
  if (!o.namespace_name.empty() && !IsDnsLabel(o.namespace_name)) {
    return Error(
        fmt::format("--namespace '{}' is not a Kubernetes namespace name (lowercase letters, digits and '-', "
                    "at most 63)",
                    o.namespace_name));
  }
  if (!o.secret.empty() && !IsDnsSubdomain(o.secret)) {
    return Error(
        fmt::format("--secret '{}' is not a Kubernetes Secret name (lowercase letters, digits, '-' and '.', "
                    "at most 253)",
                    o.secret));
  }
  if (!IsQuantity(o.memory) || o.memory.front() == '-' ||
      !(std::strtod(o.memory.c_str() + (o.memory.front() == '+'), nullptr) > 0)) {
    return Error(
        fmt::format("--memory '{}': expected a positive Kubernetes quantity such as 256Mi or 1Gi", o.memory));
  }
  if (!o.git_repo.empty() && (!Printable(o.git_repo) || o.git_repo.front() == '-')) {
    return Error(fmt::format(
        "--git-sync '{}': expected a repository URL such as https://github.com/org/project.git", o.git_repo));
  }
  if (!IsBranchName(o.git_branch))
    return Error(fmt::format("--branch '{}' is not a git branch name", o.git_branch));
  return Status::Ok();
}

Result<K8sManifests> BuildK8sManifests(const Project& project, const std::vector<ProjectFile>& files,
                                       const RunTimes& runs, const K8sOptions& options) {
  if (auto st = CheckK8sOptions(options); !st.ok()) return st.error();
  if (!CapabilitiesOf(project.warehouse.engine).shared) {
    return Error(
        fmt::format("the project's warehouse is an embedded {} file, which one process writes: a fleet of "
                    "processes needs a shared warehouse (warehouse: {{engine: postgres, dsn: ...}} in "
                    "derived.yaml)",
                    EngineName(project.warehouse.engine)));
  }
  auto dsn_vars = EnvironmentReferences(project.warehouse.dsn, "warehouse.dsn");
  if (!dsn_vars.ok()) return dsn_vars.error();
  K8sManifests out;
  const std::string project_label = ProjectLabel(project);
  const std::string secret = options.secret.empty() ? project_label + "-warehouse" : options.secret;
  if (dsn_vars->empty()) {
    out.notes.push_back(
        "the warehouse dsn names no ${VAR}: no Secret is referenced, so the server must accept the "
        "pods without a password from the environment");
  }
  auto volume = ProjectVolumeOf(files, project_label, options, project);
  if (!volume.ok()) return volume.error();
  auto workloads = Workloads(project, options, &out.notes);
  if (!workloads.ok()) return workloads.error();
  if (project.tables.empty()) out.notes.push_back("the project has no tables: no Deployment is written");
  if (volume->config_map) out.manifests.push_back(std::move(*volume->config_map));
  for (const auto& w : *workloads) {
    out.manifests.push_back(
        {"deployment-" + w.name + ".yaml",
         DeploymentOf(w, project_label, secret, *dsn_vars, volume->volume, runs, options, project)});
  }
  return out;
}

}  // namespace derived::deploy
