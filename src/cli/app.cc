// The `derived` command line: parses arguments and calls the library. The same parser
// runs in the service for commands the CLI sends it (see service/control.h).
#include "cli/app.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/names.h"
#include "service/control.h"
#include "config/limits.h"
#include "config/loader.h"
#include "fleet/shard.h"
#include "service/service.h"
#include "shadow/plan.h"
#include "util/files.h"
#include "warehouse/warehouse.h"

namespace derived::cli {
namespace {

// Bounds on numeric options, so a typo is an error rather than a million threads or a
// busy loop: more threads than this help no warehouse, and a poll, watch or grace period
// longer than a day is a mistake.
constexpr int kMaxThreads = 1024;
constexpr double kMinSeconds = 0.01;
constexpr double kMaxSeconds = 86400;

// Adds the options every command takes.
void AddCommon(CLI::App* cmd, CommonOptions* opts, std::string* now, std::vector<const CLI::Option*>* now_options) {
  cmd->add_option("--project", opts->project, "Project directory (default: the current directory)");
  cmd->add_option("--threads", opts->threads, "Worker threads (default: one per core)")->check(CLI::Range(0, kMaxThreads));
  cmd->add_flag("--no-cache", [opts](int64_t) { opts->use_cache = false; }, "Ignore and do not update the compile cache");
  now_options->push_back(cmd->add_option("--now", *now, "Fix the clock, e.g. 2024-01-03T00:00:00Z (also DERIVED_NOW)"));
}

// Thrown by ParseTimeArg on bad input: becomes exit code 2 with the message printed.
struct BadArgument {
  std::string message;
};

// A timestamp option: nullopt when it was not given; given, it must be a timestamp a user
// may write (ParseUserTimestamp): `--through ''` is an error, not 1970.
std::optional<Timestamp> ParseTimeArg(const CLI::Option* option, const std::string& text) {
  if (option->count() == 0) return std::nullopt;
  auto ts = ParseUserTimestamp(text);
  if (!ts.ok()) throw BadArgument{option->get_name() + ": " + ts.error().message};
  return *ts;
}

// "1%", "0.5%" or "20": a share of rows, more than 0 and at most 100 percent.
double ParsePercent(std::string text) {
  if (!text.empty() && text.back() == '%') text.pop_back();
  char* end = nullptr;
  double p = text.empty() ? 0 : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(p > 0 && p <= 100)) {
    throw BadArgument{"--sample: expected a percent above 0 and at most 100, e.g. 1%"};
  }
  return p;
}

// Required options are always given; the value is checked all the same.
Timestamp RequiredTimeArg(const CLI::Option* option, const std::string& text) {
  std::optional<Timestamp> ts = ParseTimeArg(option, text);
  if (!ts) throw BadArgument{option->get_name() + " is required"};
  return *ts;
}

// DERIVED_NOW, when set: like --now, an empty or absurd value is an error.
std::optional<Timestamp> NowFromEnvironment(const char* env) {
  if (env == nullptr) return std::nullopt;
  auto ts = ParseUserTimestamp(env);
  if (!ts.ok()) throw BadArgument{"DERIVED_NOW: " + ts.error().message};
  return *ts;
}

// Seconds to wait for the service's answer to a ping: DERIVED_SERVICE_TIMEOUT, if set.
double PingTimeout() {
  const char* env = std::getenv("DERIVED_SERVICE_TIMEOUT");
  if (env == nullptr) return kDefaultPingSeconds;
  char* end = nullptr;
  double seconds = std::strtod(env, &end);
  if (*env == '\0' || *end != '\0' || !(seconds >= 0.1 && seconds <= 3600)) {
    throw BadArgument{fmt::format("DERIVED_SERVICE_TIMEOUT must be a number of seconds from 0.1 to 3600, got '{}'",
                                  env)};
  }
  return seconds;
}

// Seconds options: none may be absurd (a poll every 1e-300 s, or every 1e300).
CLI::Validator Seconds(double min, bool zero_allowed) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "'" + text + "' is not a number of seconds";
        if ((zero_allowed && v == 0) || (v >= min && v <= kMaxSeconds)) return "";
        return fmt::format("{} must be {}from {} to {} seconds", text, zero_allowed ? "0 or " : "", min, kMaxSeconds);
      },
      "SECONDS");
}

}  // namespace

// True when the project's warehouse is shared by many processes (a server): then every
// command opens it itself, beside a running service. A derived.yaml that does not parse
// says nothing here; the command reports it.
bool SharedWarehouse(const std::string& root) {
  auto text = ReadFileLimited(root + "/derived.yaml", kMaxProjectFileBytes, "derived.yaml");
  if (!text.ok()) return false;
  Project project;
  Diagnostics ignored;
  if (!ParseProjectFile("derived.yaml", *text, &project, &ignored).ok()) return false;
  return CapabilitiesOf(project.warehouse.engine).shared;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Service* service) {
  CLI::App app{"Derived keeps a warehouse of derived tables correct and fresh."};
  app.set_version_flag("--version", std::string("derived ") + DERIVED_VERSION);
  app.require_subcommand(1);

  CommonOptions opts;
  opts.service = service;
  std::string now_text;
  std::vector<const CLI::Option*> now_options;  // --now of each command
  // The service has its own environment: the CLI forwards its DERIVED_NOW as --now.
  const char* now_env = service ? nullptr : std::getenv("DERIVED_NOW");

  std::string init_dir;
  auto* init = app.add_subcommand("init", "Create a small working project in DIR");
  init->add_option("DIR", init_dir, "Directory to create")->required();

  bool json = false;
  auto* validate = app.add_subcommand("validate", "Load, render, parse and type-check every table");
  AddCommon(validate, &opts, &now_text, &now_options);
  validate->add_flag("--json", json, "Machine-readable output");

  std::string select, format = "text";
  auto* dag = app.add_subcommand("dag", "Print the dependency graph inferred from the SQL");
  AddCommon(dag, &opts, &now_text, &now_options);
  auto* dag_select =
      dag->add_option("--select,-s", select, "Nodes to show: dataset.table, +table, table+, dataset.*, tag:name");
  dag->add_option("--format", format, "text, dot or json")->check(CLI::IsMember({"text", "dot", "json"}));

  std::string table, window_start;
  auto* show = app.add_subcommand("show", "Show a table: config, rendered SQL, upstreams, downstreams, lineage");
  AddCommon(show, &opts, &now_text, &now_options);
  show->add_option("TABLE", table, "dataset.table")->required();
  auto* window_start_option =
      show->add_option("--window-start", window_start, "Render the SQL for the window starting here");
  show->add_flag("--json", json, "Machine-readable output");

  bool once = false;
  ServeOptions serve;
  auto* run = app.add_subcommand("run", "Keep every table up to date as a long-running service (--once: build what is "
                                        "ready now and exit)");
  AddCommon(run, &opts, &now_text, &now_options);
  run->add_flag("--once", once, "Build what is ready now and exit");
  auto* run_select = run->add_option("--select,-s", select,
                                     "Tables to run (the service: to keep up to date): dataset.table, +table, table+, "
                                     "dataset.*, tag:name");
  run->add_option("--shard", serve.shard,
                  "K/N: on a shared warehouse, keep up to date only the tables of shard K of N (N processes split "
                  "the project, each table to one shard)");
  run->add_flag("--json", json, "Machine-readable output");
  run->add_option("--workers", serve.workers, "Tables updated in parallel (default: one per core)")
      ->check(CLI::Range(0, kMaxThreads));
  run->add_option("--poll", serve.poll_seconds, "Seconds between freshness queries of sources (default 60)")
      ->check(Seconds(kMinSeconds, false));
  run->add_option("--watch", serve.watch_seconds,
                  "Seconds between checks for project changes (default 1; 0: never reload)")
      ->check(Seconds(kMinSeconds, true));
  run->add_option("--branch", serve.branch, "Follow new commits on this git branch instead of the working tree");
  run->add_option("--grace", serve.grace_seconds,
                  "On SIGINT/SIGTERM, seconds in-flight mutations may take before they are rolled back (default 30)")
      ->check(Seconds(kMinSeconds, true));
  auto lease_options = [&](CLI::App* cmd) {
    cmd->add_option("--lease", serve.lease_seconds,
                    "On a shared warehouse, seconds a table's lease lasts unrenewed: a dead process's tables are taken "
                    "over after this (default 30)")
        ->check(Seconds(3, false));
    cmd->add_option("--health-port", serve.health_port,
                    "Serve /healthz, /readyz and Prometheus /metrics on this port (0: one the system picks)")
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--health-bind", serve.health_bind,
                    "The address the health port listens on (default 127.0.0.1; 0.0.0.0 in a container)");
  };
  lease_options(run);

  bool update_once = false;
  auto* update = app.add_subcommand("update", "Run one table's updater on its own, as its own process");
  AddCommon(update, &opts, &now_text, &now_options);
  update->add_option("TABLE", table, "dataset.table")->required();
  update->add_flag("--once", update_once, "Take one step and exit");
  update->add_option("--poll", serve.poll_seconds,
                     "Seconds between steps (on a shared warehouse: between freshness queries and looks at other "
                     "processes' commits; default 60)")
      ->check(Seconds(kMinSeconds, false));
  update->add_option("--branch", serve.branch, "Follow new commits on this git branch instead of the working tree");
  update->add_option("--watch", serve.watch_seconds,
                     "Seconds between checks for project changes (default 1; 0: never reload)")
      ->check(Seconds(kMinSeconds, true));
  lease_options(update);

  auto* plan = app.add_subcommand("plan", "What loading the project as it is now would do to each table");
  AddCommon(plan, &opts, &now_text, &now_options);
  plan->add_flag("--json", json, "Machine-readable output");

  auto* drop = app.add_subcommand("drop", "Delete a table removed from the project, with its state");
  AddCommon(drop, &opts, &now_text, &now_options);
  drop->add_option("TABLE", table, "dataset.table")->required();

  auto* status = app.add_subcommand("status", "Per table: watermark, freshness lag, last run, failures, what it waits on");
  AddCommon(status, &opts, &now_text, &now_options);
  status->add_flag("--json", json, "Machine-readable output");

  int limit = 20;
  auto* log = app.add_subcommand("log", "The metadata log, newest first");
  AddCommon(log, &opts, &now_text, &now_options);
  log->add_option("TABLE", table, "Only this table (dataset.table)");
  log->add_option("--limit", limit, "Rows to show (default 20)")->check(CLI::PositiveNumber);
  log->add_flag("--json", json, "Machine-readable output: one JSON object per line");

  std::string from_text, to_text;
  auto* backfill = app.add_subcommand("backfill", "Recompute the windows of one table in [--from, --to)");
  AddCommon(backfill, &opts, &now_text, &now_options);
  backfill->add_option("TABLE", table, "dataset.table")->required();
  auto* from_option = backfill->add_option("--from", from_text, "First instant to recompute")->required();
  auto* to_option = backfill->add_option("--to", to_text, "End (exclusive) of the range to recompute")->required();
  backfill->add_flag("--json", json, "Machine-readable output");
  bool downstream = false, no_downstream = false;
  auto* downstream_flag = backfill->add_flag(
      "--downstream", downstream,
      "Also recompute every downstream window that read them (the default while the service runs)");
  backfill->add_flag("--no-downstream", no_downstream, "Only this table, even while the service runs")
      ->excludes(downstream_flag);

  std::string source, through_text;
  auto* source_cmd = app.add_subcommand("source", "Commands about raw sources");
  source_cmd->require_subcommand(1);
  auto* mark = source_cmd->add_subcommand("mark", "Record that a source is complete through a time");
  AddCommon(mark, &opts, &now_text, &now_options);
  mark->add_option("SOURCE", source, "dataset.table")->required();
  auto* through_option =
      mark->add_option("--through", through_text, "Data is complete up to (not including) this time")->required();

  std::string restate_from, restate_to;
  auto* restate = source_cmd->add_subcommand("restate", "A source's data in [--from, --to) was corrected: repair "
                                                        "every window that read it");
  AddCommon(restate, &opts, &now_text, &now_options);
  restate->add_option("SOURCE", source, "dataset.table")->required();
  auto* restate_from_option = restate->add_option("--from", restate_from, "First corrected instant")->required();
  auto* restate_to_option = restate->add_option("--to", restate_to, "End (exclusive) of the corrected range")->required();
  restate->add_flag("--json", json, "Machine-readable output");

  std::string lineage_at;
  auto* lineage = app.add_subcommand("lineage", "The exact upstream runs a window was built from, recursively");
  AddCommon(lineage, &opts, &now_text, &now_options);
  lineage->add_option("TABLE", table, "dataset.table")->required();
  auto* lineage_option = lineage->add_option("--window", lineage_at, "An instant inside the window")->required();
  lineage->add_flag("--json", json, "Machine-readable output");

  std::string sql, sql_file;
  auto* query = app.add_subcommand("query", "Run SQL against the warehouse and print every statement's result (it "
                                            "only reads unless --write)");
  AddCommon(query, &opts, &now_text, &now_options);
  auto* sql_arg = query->add_option("SQL", sql, "The SQL: one or more statements (or use --file)");
  query->add_option("--file,-f", sql_file, "Read the SQL from this file")->excludes(sql_arg);
  query->add_flag("--json", json, "Machine-readable output: one JSON object per line");
  bool write = false;
  query->add_flag("--write", write,
                  "Allow statements that change the warehouse (INSERT, CREATE, COPY, ...): one transaction, logged in "
                  "_derived.log");

  auto* shadow_cmd = app.add_subcommand("shadow", "Shadow environments: a branch's changed tables and their "
                                                  "downstream built beside production, reading it");
  shadow_cmd->require_subcommand(1);
  ShadowBuildOptions shadow_build_opts;
  std::string shadow_last;
  auto* shadow_build = shadow_cmd->add_subcommand("build", "Build what the working tree changes against production's "
                                                           "definitions into environment --env");
  AddCommon(shadow_build, &opts, &now_text, &now_options);
  shadow_build->add_option("--env", shadow_build_opts.env, "The environment's name (a-z, 0-9, _)")->required();
  auto* last_option = shadow_build->add_option("--last", shadow_last,
                                               "Build the windows of this long before now, e.g. '3 days' (default: "
                                               "derived.yaml's shadow.last, else 3 days)");
  shadow_build->add_flag("--full", shadow_build_opts.full, "Build every window from each table's start")->excludes(last_option);
  std::string sample_text;
  auto* sample_option = shadow_build->add_option(
      "--sample", sample_text, "Replace tables read this share of their production inputs, e.g. 1% (a repeatable sample)");
  shadow_build->add_flag("--json", json, "Machine-readable output");
  auto* shadow_list = shadow_cmd->add_subcommand("list", "The shadow environments in the warehouse");
  AddCommon(shadow_list, &opts, &now_text, &now_options);
  shadow_list->add_flag("--json", json, "Machine-readable output");
  std::string shadow_env;
  auto* shadow_drop = shadow_cmd->add_subcommand("drop", "Drop a shadow environment (its schemas only)");
  AddCommon(shadow_drop, &opts, &now_text, &now_options);
  shadow_drop->add_option("--env", shadow_env, "The environment's name")->required();

  auto* shadow_diff = shadow_cmd->add_subcommand("diff", "What each table of environment --env holds against "
                                                         "production: schema, rows, keys, values, and what it breaks");
  AddCommon(shadow_diff, &opts, &now_text, &now_options);
  shadow_diff->add_option("--env", shadow_env, "The environment's name")->required();
  shadow_diff->add_flag("--json", json, "Machine-readable output");

  auto* shadow_promote = shadow_cmd->add_subcommand(
      "promote", "Swap environment --env's full builds into production where they are what a rebuild would make");
  AddCommon(shadow_promote, &opts, &now_text, &now_options);
  shadow_promote->add_option("--env", shadow_env, "The environment's name")->required();
  shadow_promote->add_flag("--json", json, "Machine-readable output");

  CiOptions ci_opts;
  std::string ci_last;
  auto* ci = app.add_subcommand("ci", "Validate the project, build what it changes against --base in a shadow "
                                      "environment, diff it, and write a Markdown summary; exit 1 on any failure");
  AddCommon(ci, &opts, &now_text, &now_options);
  ci->add_option("--base", ci_opts.base, "The git revision the working tree is compared with, e.g. origin/main")
      ->required();
  ci->add_option("--env", ci_opts.env, "The shadow environment's name (default: ci)");
  ci->add_option("--summary", ci_opts.summary, "Write the Markdown summary to this file (default: standard output)");
  auto* ci_last_option = ci->add_option("--last", ci_last, "Build the windows of this long before now (as shadow build)");
  ci->add_flag("--full", ci_opts.full, "Build every window from each table's start")->excludes(ci_last_option);
  auto* ci_sample_option =
      ci->add_option("--sample", sample_text, "Replace tables read this share of their production inputs, e.g. 1%");

  DeployK8sArgs deploy_args;
  auto* deploy_k8s = AddDeployCommand(&app, &deploy_args);
  AddCommon(deploy_k8s, &opts, &now_text, &now_options);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return code == 0 ? 0 : 2;
  }
  // An embedded warehouse has one writing process: while the service runs, commands that
  // need the warehouse run inside it, and only those. A shared one is opened by each.
  bool needs_warehouse = status->parsed() || log->parsed() || backfill->parsed() || mark->parsed() ||
                         restate->parsed() || lineage->parsed() || query->parsed() || plan->parsed() ||
                         drop->parsed() || show->parsed() || shadow_build->parsed() || shadow_list->parsed() ||
                         shadow_drop->parsed() || shadow_diff->parsed() || shadow_promote->parsed() ||
                         ci->parsed();
  if (service && !needs_warehouse) {
    err << "error: the Derived service runs only commands that need its warehouse (status, show, log, query, plan, "
           "lineage, backfill, source mark, source restate, drop, shadow, ci)\n";
    return 2;
  }
  try {
    const CLI::Option* now_given = nullptr;
    for (const CLI::Option* o : now_options) {
      if (o->count() > 0) now_given = o;
    }
    opts.now = now_given ? ParseTimeArg(now_given, now_text) : NowFromEnvironment(now_env);
    for (const CLI::Option* o : {dag_select, run_select}) {
      if (o->count() > 0 && select.empty()) {
        throw BadArgument{"--select: empty selector; name the tables, e.g. core.orders, +core.orders, core.*, "
                          "tag:nightly (or leave --select out for all of them)"};
      }
    }
    if (init->parsed()) return Init(init_dir, out, err);
    if (validate->parsed()) return Validate(opts, json, out, err);
    if (dag->parsed()) {
      DagFormat f = format == "dot" ? DagFormat::kDot : format == "json" ? DagFormat::kJson : DagFormat::kText;
      return Dag(opts, select, f, out, err);
    }
    if (deploy_k8s->parsed()) return DeployK8s(opts, deploy_args, out, err);
    std::error_code ec;
    std::string root = std::filesystem::absolute(opts.project, ec).lexically_normal().string();
    if (!service && (needs_warehouse || run->parsed() || update->parsed()) && !SharedWarehouse(root)) {
      ServiceLookup found = LookUpService(root, PingTimeout());
      if (found.state == ServiceLookup::State::kNotResponding) {
        // Its warehouse is locked by it: saying so beats a lock error that points elsewhere.
        err << "error: " << NotRespondingMessage(found.info, found.why)
            << "; commands that need the warehouse go through the running service (wait, or stop it with "
               "SIGTERM)\n";
        return 1;
      }
      if (auto svc = found.state == ServiceLookup::State::kAnswering ? std::optional(found.info) : std::nullopt) {
        if (run->parsed() || update->parsed()) {
          err << fmt::format(
              "error: the Derived service (pid {}) is running for this project and keeps every table up to date; an "
              "embedded DuckDB warehouse has one writing process, so `derived {}` cannot run beside it (stop the "
              "service with SIGTERM first)\n",
              svc->pid, run->parsed() ? (once ? "run --once" : "run") : "update");
          return 1;
        }
        std::vector<std::string> forwarded = args;
        const bool summary_here = ci->parsed() && !ci_opts.summary.empty();
        if (summary_here) {
          // The file is the client's: the service sends the summary back, written here.
          std::vector<std::string> kept;
          for (size_t i = 0; i < forwarded.size(); ++i) {
            if (forwarded[i] == "--summary") {
              ++i;
            } else if (forwarded[i].rfind("--summary=", 0) != 0) {
              kept.push_back(forwarded[i]);
            }
          }
          forwarded = std::move(kept);
        }
        if (query->parsed() && !sql_file.empty()) {
          // The file is the client's: send its text.
          auto text = ReadFileLimited(sql_file, kMaxQueryFileBytes, "'" + sql_file + "'");
          if (!text.ok()) {
            err << "error: " << text.error().message << "\n";
            return 2;
          }
          forwarded = {"query"};
          if (json) forwarded.push_back("--json");
          if (write) forwarded.push_back("--write");
          forwarded.push_back("--");  // the text is the argument, even when it starts with "--"
          forwarded.push_back(std::move(*text));
        }
        if (!now_given && opts.now) {  // from DERIVED_NOW: the service has its own environment
          std::string now_arg = FormatIso(*opts.now);
          if (forwarded.size() > 1 && forwarded[forwarded.size() - 2] == "--") {
            forwarded.insert(forwarded.end() - 2, {"--now", now_arg});
          } else {
            forwarded.push_back("--now");
            forwarded.push_back(now_arg);
          }
        }
        auto r = SendCommand(*svc, forwarded);
        if (!r.ok()) {
          err << "error: " << r.error().message << "\n";
          return 1;
        }
        err << r->err;
        if (summary_here && (r->exit_code == 0 || r->exit_code == 1)) {
          return WriteCiSummary(ci_opts.summary, r->out, r->exit_code, out, err);
        }
        out << r->out;
        return r->exit_code;
      }
    }
    // Names resolve where the command runs: inside the service, against its project
    // version and warehouse.
    auto resolve = [&](std::string* name, NameScope scope) -> std::optional<int> {
      if (auto quick = ResolveByLayout(opts, *name, scope)) {
        *name = *quick;
        return std::nullopt;
      }
      auto catalog = LoadNames(opts, scope);
      if (!catalog.ok()) {
        err << "error: " << catalog.error().ToString() << "\n";
        return 1;
      }
      auto resolved = ResolveName(*name, scope, *catalog);
      if (!resolved.ok()) throw BadArgument{resolved.error().message};
      *name = *resolved;
      return std::nullopt;
    };
    std::optional<int> failed;
    if (update->parsed() || backfill->parsed() || lineage->parsed()) failed = resolve(&table, NameScope::kTable);
    if (drop->parsed()) failed = resolve(&table, NameScope::kBuiltTable);
    if (log->parsed() && !table.empty()) failed = resolve(&table, NameScope::kLogged);
    if (mark->parsed() || restate->parsed()) failed = resolve(&source, NameScope::kSource);
    if (failed) return *failed;

    if (show->parsed()) return Show(opts, table, ParseTimeArg(window_start_option, window_start), json, out, err);
    if (run->parsed()) {
      if (!serve.shard.empty()) {
        if (once) throw BadArgument{"--shard splits the tables among long-running services; leave out --once"};
        if (!SharedWarehouse(root)) {
          throw BadArgument{"--shard splits the tables among processes on a shared warehouse (PostgreSQL); an "
                            "embedded DuckDB warehouse has one writing process, which keeps every table"};
        }
        if (auto shard = fleet::ParseShard(serve.shard); !shard.ok()) throw BadArgument{"--shard: " + shard.error().message};
      }
      if (once) return Run(opts, select, json, out, err);
      serve.select = select;
      return Serve(opts, serve, out, err);
    }
    if (update->parsed()) return Update(opts, table, update_once, serve, out, err);
    if (plan->parsed()) return PlanCommand(opts, json, out, err);
    if (drop->parsed()) return Drop(opts, table, out, err);
    if (status->parsed()) return Status(opts, json, out, err);
    if (log->parsed()) return Log(opts, table, limit, json, out, err);
    if (backfill->parsed()) {
      // The service keeps readers consistent with what they read: a repair goes all the
      // way down unless asked not to.
      bool propagate = downstream || (service && !no_downstream);
      return Backfill(opts, table, RequiredTimeArg(from_option, from_text), RequiredTimeArg(to_option, to_text), propagate,
                      json, out, err);
    }
    if (mark->parsed()) return SourceMark(opts, source, RequiredTimeArg(through_option, through_text), out, err);
    if (restate->parsed()) {
      return SourceRestate(opts, source, RequiredTimeArg(restate_from_option, restate_from),
                           RequiredTimeArg(restate_to_option, restate_to),
                           json, out, err);
    }
    if (lineage->parsed()) return Lineage(opts, table, RequiredTimeArg(lineage_option, lineage_at), json, out, err);
    if (query->parsed()) return Query(opts, sql, sql_file, json, write, out, err);
    // The shadow commands' options, each checked alike.
    auto last_arg = [](const CLI::Option* option, const std::string& text) -> std::optional<Duration> {
      if (option->count() == 0) return std::nullopt;
      auto d = ParseDuration(text);
      if (!d.ok()) throw BadArgument{"--last: " + d.error().message};
      if (d->count <= 0) throw BadArgument{"--last must be longer than zero"};
      return *d;
    };
    auto sample_arg = [&](const CLI::Option* option) -> std::optional<double> {
      if (option->count() == 0) return std::nullopt;
      return ParsePercent(sample_text);
    };
    auto env_arg = [](const std::string& env) {
      if (auto st = shadow::CheckEnvironmentName(env); !st.ok()) throw BadArgument{"--env: " + st.error().message};
      return env;
    };
    if (shadow_build->parsed()) {
      shadow_build_opts.last = last_arg(last_option, shadow_last);
      shadow_build_opts.sample_percent = sample_arg(sample_option);
      env_arg(shadow_build_opts.env);
      return ShadowBuild(opts, shadow_build_opts, json, out, err);
    }
    if (shadow_list->parsed()) return ShadowList(opts, json, out, err);
    if (ci->parsed()) {
      ci_opts.last = last_arg(ci_last_option, ci_last);
      ci_opts.sample_percent = sample_arg(ci_sample_option);
      env_arg(ci_opts.env);
      return Ci(opts, ci_opts, out, err);
    }
    if (shadow_promote->parsed()) return ShadowPromote(opts, env_arg(shadow_env), json, out, err);
    if (shadow_diff->parsed()) return ShadowDiff(opts, env_arg(shadow_env), json, out, err);
    if (shadow_drop->parsed()) return ShadowDrop(opts, env_arg(shadow_env), out, err);
  } catch (const BadArgument& e) {
    err << "error: " << e.message << "\n";
    return 2;
  }
  return 2;
}

}  // namespace derived::cli
