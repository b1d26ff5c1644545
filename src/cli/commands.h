// The CLI's commands as library functions: each takes parsed options and output streams
// and returns the process exit code (0 ok, 1 problems found, 2 bad usage).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>

#include "time/schedule.h"
#include "time/timestamp.h"

namespace CLI {
class App;
}

namespace derived {
class Service;
struct TableOutcome;
}

namespace derived::cli {

struct CommonOptions {
  std::string project = ".";
  int threads = 0;
  bool use_cache = true;
  std::optional<Timestamp> now;  // --now or DERIVED_NOW; the wall clock otherwise
  Service* service = nullptr;    // set when the command runs inside the service
};

// `derived run` without --once (serve.cc).
struct ServeOptions {
  int workers = 0;
  double poll_seconds = 60;
  double watch_seconds = 1;
  std::string branch;
  double grace_seconds = 30;
  // The tables served (a selector; empty: all) and the shard, "K/N" (empty: all).
  std::string select, shard;
  double lease_seconds = 30;  // on a shared warehouse (ServiceOptions::lease_seconds)
  // /healthz, /readyz and /metrics (health/server.h) on this port; -1: none.
  int health_port = -1;
  std::string health_bind = "127.0.0.1";
};

enum class DagFormat { kText, kDot, kJson };

// True when the project's warehouse is shared by many processes (a server).
bool SharedWarehouse(const std::string& project_dir);

int Init(const std::string& dir, std::ostream& out, std::ostream& err);
int Validate(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err);
int Dag(const CommonOptions& opts, const std::string& select, DagFormat format, std::ostream& out, std::ostream& err);
int Show(const CommonOptions& opts, const std::string& table, std::optional<Timestamp> window_start, bool json,
         std::ostream& out, std::ostream& err);

// The service (serve.cc): runs until SIGINT or SIGTERM.
int Serve(const CommonOptions& opts, const ServeOptions& serve, std::ostream& out, std::ostream& err);
// One table's updater on its own: a step every `poll_seconds`, or one with `once`.
int Update(const CommonOptions& opts, const std::string& table, bool once, const ServeOptions& serve,
           std::ostream& out, std::ostream& err);

// What a table's step did, as one line of a command's output ("" for nothing worth
// showing: up to date or waiting).
std::string OutcomeLine(const TableOutcome& o);

// The build engine's commands (run.cc).
int PlanCommand(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err);
int Drop(const CommonOptions& opts, const std::string& table, std::ostream& out, std::ostream& err);
int Run(const CommonOptions& opts, const std::string& select, bool json, std::ostream& out, std::ostream& err);
int Backfill(const CommonOptions& opts, const std::string& table, Timestamp from, Timestamp to, bool downstream,
             bool json, std::ostream& out, std::ostream& err);
int SourceRestate(const CommonOptions& opts, const std::string& source, Timestamp from, Timestamp to, bool json,
                  std::ostream& out, std::ostream& err);
int Status(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err);
int Lineage(const CommonOptions& opts, const std::string& table, Timestamp at, bool json, std::ostream& out,
            std::ostream& err);
int Log(const CommonOptions& opts, const std::string& table, int limit, bool json, std::ostream& out,
        std::ostream& err);
int SourceMark(const CommonOptions& opts, const std::string& source, Timestamp through, std::ostream& out,
               std::ostream& err);

// `derived deploy k8s` (deploy.cc): Kubernetes manifests for a fleet on a shared warehouse.
struct DeployK8sArgs {
  bool per_table = false;
  int groups = 0;  // 0: not given
  std::string out, image, namespace_name, secret, git_repo, branch, memory;
  bool no_log = false;  // do not read run times from the warehouse
};
// Adds `deploy` and its `k8s` subcommand, with their options (defaults filled in), to
// `app`; returns `k8s`, which takes the common options too.
CLI::App* AddDeployCommand(CLI::App* app, DeployK8sArgs* args);
int DeployK8s(const CommonOptions& opts, const DeployK8sArgs& args, std::ostream& out, std::ostream& err);

// Shadow environments (shadow.cc, shadow/environment.h).
struct ShadowBuildOptions {
  std::string env;
  std::optional<Duration> last;  // --last; nullopt: derived.yaml's shadow.last
  bool full = false;             // --full: every window from each table's start
  std::optional<double> sample_percent;  // --sample P%: replace tables read a sample
};
int ShadowBuild(const CommonOptions& opts, const ShadowBuildOptions& build, bool json, std::ostream& out,
                std::ostream& err);
int ShadowList(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err);
int ShadowDrop(const CommonOptions& opts, const std::string& env, std::ostream& out, std::ostream& err);
int ShadowDiff(const CommonOptions& opts, const std::string& env, bool json, std::ostream& out, std::ostream& err);
int ShadowPromote(const CommonOptions& opts, const std::string& env, bool json, std::ostream& out, std::ostream& err);

// `derived ci` (ci.cc).
struct CiOptions {
  std::string base;  // a git revision: what the working tree is compared with
  std::string env = "ci";
  std::string summary;  // the Markdown summary's file; empty: standard output
  std::optional<Duration> last;
  bool full = false;
  std::optional<double> sample_percent;
};
int Ci(const CommonOptions& opts, const CiOptions& ci, std::ostream& out, std::ostream& err);
// Writes `markdown` to `path` whole or not at all, says where, and returns `code` (1 when
// it cannot be written).
int WriteCiSummary(const std::string& path, const std::string& markdown, int code, std::ostream& out,
                   std::ostream& err);

// The most `query --file` reads: what the service accepts in one request.
inline constexpr size_t kMaxQueryFileBytes = size_t{64} << 20;

// SQL against the warehouse (query.cc): `sql`, or the text of `file` when given. Only
// reads unless `write` (see cli/read_only.h); with it, runs in one transaction, logged.
int Query(const CommonOptions& opts, const std::string& sql, const std::string& file, bool json, bool write,
          std::ostream& out, std::ostream& err);

}  // namespace derived::cli
