// `derived deploy k8s`: the Kubernetes objects that run a project as a fleet of processes
// on its shared warehouse. Pure: a loaded project, its files, recent run times and the
// options in; the objects out (nothing is read, written or applied here).
//
// The processes (the contract of `derived update` and `derived run --shard`):
//   per table:  derived update <dataset.table> --project /project --health-port 8080
//   per group:  derived run --shard K/N --project /project --health-port 8080
// with DERIVED_OWNER set to the pod's name (a restarted container takes back its leases),
// every ${VAR} of the warehouse dsn taken from a Secret, /healthz (liveness) and /readyz
// (readiness) probed and /metrics scraped on port 8080.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "deploy/project_files.h"
#include "deploy/yaml_text.h"
#include "util/status.h"

namespace derived::deploy {

inline constexpr int kHealthPort = 8080;
inline constexpr const char* kProjectMount = "/project";
inline constexpr const char* kGitSyncImage = "registry.k8s.io/git-sync/git-sync:v4.4.0";
// git-sync (v4) clones into --root a repository whose local branch "git-sync" it keeps at
// the synced commit of --ref: the branch the derived container follows (`--branch`).
inline constexpr const char* kGitSyncLocalBranch = "git-sync";
// What the Kubernetes API accepts in one ConfigMap's data and binaryData together.
inline constexpr size_t kMaxConfigMapBytes = size_t{1} << 20;
// Run times are averaged over this period of the log.
inline constexpr double kRunTimePeriodSeconds = 7 * 86400.0;
// CPU requests: never below the floor; at most one core for one table's updater (it
// builds one window at a time), at most the group cap for a shard.
inline constexpr int kCpuFloorMillis = 50;
inline constexpr int kTableCpuCapMillis = 1000;
inline constexpr int kGroupCpuCapMillis = 4000;
// Room left for Kubernetes' own annotations within its 256 KiB per object.
inline constexpr size_t kMaxTablesAnnotationBytes = 200 * 1024;

struct K8sOptions {
  int groups = 0;  // 0: a Deployment per table; N in [1, 10000]: one per shard K of N
  std::string image = "derived:latest";
  std::string namespace_name;  // metadata.namespace of every object; empty: none
  std::string secret;          // holds the dsn's ${VAR}s; empty: "<project>-warehouse"
  std::string git_repo;        // empty: the project in a ConfigMap; else a git-sync sidecar
  std::string git_branch = "main";
  std::string memory = "256Mi";  // request and limit of every derived container
};

// Seconds each table's mutations took in the log over the last kRunTimePeriodSeconds,
// or why there are no figures (the warehouse could not be read, or was not asked).
struct RunTimes {
  std::optional<std::string> unknown_because;
  std::map<std::string, double> seconds;  // qualified name -> seconds; absent: none logged
};

struct Manifest {
  std::string file;  // its name in the output folder: "deployment-<name>.yaml"
  Object object;
};

struct K8sManifests {
  std::vector<Manifest> manifests;  // the ConfigMap (if any) first, then the Deployments
  std::vector<std::string> notes;   // what a user should know (skipped shards, defaults)
};

// Why `options` cannot be used (a bad namespace, secret name, quantity, image, repository
// or branch), before anything is loaded.
Status CheckK8sOptions(const K8sOptions& options);

// The objects that deploy `project`. `files` (ReadProjectFiles) go into the ConfigMap;
// with options.git_repo they are not used. Fails on an embedded warehouse (its one
// writing process cannot be a fleet), on bad options, and on a project too large for a
// ConfigMap (pointing to --git-sync).
Result<K8sManifests> BuildK8sManifests(const Project& project, const std::vector<ProjectFile>& files,
                                       const RunTimes& runs, const K8sOptions& options);

// The CPU request, in millicores, of a process whose tables' builds took `busy_seconds`
// of the last `period_seconds`: that fraction of a core, within [kCpuFloorMillis, cap].
int CpuRequestMillis(double busy_seconds, double period_seconds, int cap_millis);

// True for a Kubernetes resource quantity: "50m", "256Mi", "1.5", "2e3".
bool IsQuantity(std::string_view text);

}  // namespace derived::deploy
