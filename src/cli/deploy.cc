// `derived deploy k8s`: writes the Kubernetes manifests of a fleet (deploy/k8s.h) into a
// folder, replaced whole. Reads run times from the warehouse's log when it can; never
// needs the warehouse to be reachable.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <ostream>

#include "cli/commands.h"
#include "cli/compile_project.h"
#include "config/loader.h"
#include "deploy/k8s.h"
#include "deploy/manifest_dir.h"
#include "deploy/project_files.h"
#include "fleet/shard.h"
#include "metadata/store.h"
#include "time/clock.h"
#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived::cli {
namespace {

// `text` on one line: libpq's messages hold newlines and tabs.
std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Run times of the last week from the log, or why there are none.
deploy::RunTimes ReadRunTimes(const Project& project) {
  deploy::RunTimes runs;
  auto wh = OpenWarehouse(project);
  if (!wh.ok()) {
    runs.unknown_because = "the warehouse could not be opened: " + OneLine(wh.error().message);
    return runs;
  }
  MetadataStore meta(wh->get(), {});
  Timestamp since{SystemClock().Now().seconds - static_cast<int64_t>(deploy::kRunTimePeriodSeconds)};
  auto seconds = meta.RunSeconds(since);
  if (!seconds.ok()) {
    runs.unknown_because = "the log could not be read: " + OneLine(seconds.error().message);
  } else if (seconds->empty()) {
    runs.unknown_because = "the log holds no runs of the last 7 days";
  } else {
    runs.seconds = std::move(*seconds);
  }
  return runs;
}

}  // namespace

CLI::App* AddDeployCommand(CLI::App* app, DeployK8sArgs* args) {
  deploy::K8sOptions defaults;
  args->out = "k8s";
  args->image = defaults.image;
  args->branch = defaults.git_branch;
  args->memory = defaults.memory;
  auto* deploy =
      app->add_subcommand("deploy", "Write the manifests that run the project as a fleet of processes");
  deploy->require_subcommand(1);
  auto* k8s = deploy->add_subcommand(
      "k8s",
      "Kubernetes manifests: a Deployment per table (or per group), the project in a ConfigMap or from git");
  auto* per_table = k8s->add_flag("--per-table", args->per_table, "A Deployment per table (the default)");
  k8s->add_option("--groups", args->groups, "N Deployments, each running `derived run --shard K/N`")
      ->check(CLI::Range(1, fleet::kMaxShards))
      ->excludes(per_table);
  k8s->add_option("--out", args->out, "Folder to write the manifests to, replaced whole (default ./k8s)");
  k8s->add_option("--image", args->image, "The container image holding derived (default derived:latest)");
  k8s->add_option("--namespace", args->namespace_name, "Namespace of every object (default: none given)");
  k8s->add_option(
      "--secret", args->secret,
      "Secret holding the warehouse dsn's ${VAR}s, one key per variable (default <project>-warehouse)");
  auto* git = k8s->add_option(
      "--git-sync", args->git_repo,
      "Deliver the project from this git repository with a git-sync sidecar, not a ConfigMap");
  k8s->add_option("--branch", args->branch, "With --git-sync, the branch to follow (default main)")
      ->needs(git);
  k8s->add_option("--memory", args->memory,
                  "Memory request and limit of each derived container (default 256Mi)");
  k8s->add_flag("--no-log", args->no_log, "Do not read run times from the warehouse: default CPU requests");
  return k8s;
}

int DeployK8s(const CommonOptions& opts, const DeployK8sArgs& args, std::ostream& out, std::ostream& err) {
  deploy::K8sOptions options;
  options.groups = args.groups;
  options.image = args.image;
  options.namespace_name = args.namespace_name;
  options.secret = args.secret;
  options.git_repo = args.git_repo;
  options.git_branch = args.branch;
  options.memory = args.memory;
  if (auto st = deploy::CheckK8sOptions(options); !st.ok()) {
    err << "error: " << st.error().message << "\n";
    return 2;
  }
  // Made first, so an unwritable --out fails before the project and warehouse are read.
  auto dir = deploy::ManifestDir::Open(args.out);
  if (!dir.ok()) {
    err << "error: " << dir.error().message << "\n";
    return 2;
  }

  Diagnostics diags;
  LoadOptions load;
  load.threads = opts.threads;
  auto project = LoadProject(opts.project, &diags, load);
  if (!project.ok()) {
    err << "error: " << project.error().ToString() << "\n";
    return 1;
  }
  if (diags.has_errors()) {
    // A table whose file does not load would get no process: deploy only what loads whole.
    PrintDiagnostics(diags, err);
    err << fmt::format("error: the project has {} (see `derived validate`): nothing written\n",
                       Plural(static_cast<int64_t>(diags.error_count()), "error"));
    return 1;
  }
  if (!CapabilitiesOf(project->warehouse.engine).shared) {
    err << fmt::format(
        "error: the warehouse is an embedded {} file, which only one process can write: `derived "
        "deploy k8s` runs many processes, which need a shared warehouse (warehouse: {{engine: postgres, "
        "dsn: ...}} in derived.yaml)\n",
        EngineName(project->warehouse.engine));
    return 2;
  }
  std::vector<deploy::ProjectFile> files;
  if (options.git_repo.empty()) {
    auto read = deploy::ReadProjectFiles(*project);
    if (!read.ok()) {
      err << "error: " << read.error().ToString() << "\n";
      return 1;
    }
    files = std::move(*read);
  }
  deploy::RunTimes runs;
  if (args.no_log) {
    runs.unknown_because = "--no-log";
  } else {
    runs = ReadRunTimes(*project);
    if (runs.unknown_because) {
      err << fmt::format("warning: no run times: {}; every Deployment requests the CPU floor ({}m)\n",
                         *runs.unknown_because, deploy::kCpuFloorMillis);
    }
  }

  auto built = deploy::BuildK8sManifests(*project, files, runs, options);
  if (!built.ok()) {
    err << "error: " << built.error().message << "\n";
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> texts;
  size_t deployments = 0;
  for (const auto& m : built->manifests) {
    auto yaml = deploy::ToYaml(m.object);
    if (!yaml.ok()) {
      err << "error: " << m.file << ": " << yaml.error().message << "\n";
      return 1;
    }
    texts.emplace_back(m.file, std::move(*yaml));
    if (m.object.value("kind", "") == "Deployment") ++deployments;
  }
  if (auto st = (*dir)->Commit(texts); !st.ok()) {
    err << "error: " << st.error().message << "\n";
    return 2;
  }
  for (const auto& note : built->notes) err << "note: " << note << "\n";
  std::string delivery =
      options.git_repo.empty()
          ? fmt::format("the project's {} in a ConfigMap", Plural(static_cast<int64_t>(files.size()), "file"))
          : fmt::format("the project from {} ({}) by git-sync", options.git_repo, options.git_branch);
  out << fmt::format("wrote {} to {}: {} ({}), {}\n", Plural(static_cast<int64_t>(texts.size()), "manifest"),
                     (*dir)->dir(), Plural(static_cast<int64_t>(deployments), "Deployment"),
                     options.groups ? fmt::format("{} groups", options.groups) : "one per table", delivery);
  return 0;
}

}  // namespace derived::cli
