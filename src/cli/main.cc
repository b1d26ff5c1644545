// The `derived` command line: parses arguments and calls the library.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"

namespace {

using derived::cli::CommonOptions;

// Adds the options every command takes.
void AddCommon(CLI::App* cmd, CommonOptions* opts, std::string* now) {
  cmd->add_option("--project", opts->project, "Project directory (default: the current directory)");
  cmd->add_option("--threads", opts->threads, "Worker threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-cache", [opts](int64_t) { opts->use_cache = false; }, "Ignore and do not update the compile cache");
  cmd->add_option("--now", *now, "Fix the clock, e.g. 2024-01-03T00:00:00Z (also DERIVED_NOW)");
}

// Parses a timestamp argument; prints the error and exits 2 on bad input.
std::optional<derived::Timestamp> ParseTimeArg(const std::string& text, const std::string& option) {
  if (text.empty()) return std::nullopt;
  auto ts = derived::ParseTimestamp(text);
  if (!ts.ok()) {
    std::cerr << "error: " << option << ": " << ts.error().message << "\n";
    std::exit(2);
  }
  return *ts;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Derived keeps a warehouse of derived tables correct and fresh."};
  app.set_version_flag("--version", std::string("derived ") + DERIVED_VERSION);
  app.require_subcommand(1);

  CommonOptions opts;
  std::string now_text;
  if (const char* env = std::getenv("DERIVED_NOW")) now_text = env;

  std::string init_dir;
  auto* init = app.add_subcommand("init", "Create a small working project in DIR");
  init->add_option("DIR", init_dir, "Directory to create")->required();

  bool json = false;
  auto* validate = app.add_subcommand("validate", "Load, render, parse and type-check every table");
  AddCommon(validate, &opts, &now_text);
  validate->add_flag("--json", json, "Machine-readable output");

  std::string select, format = "text";
  auto* dag = app.add_subcommand("dag", "Print the dependency graph inferred from the SQL");
  AddCommon(dag, &opts, &now_text);
  dag->add_option("--select,-s", select, "Nodes to show: dataset.table, +table, table+, dataset.*, tag:name");
  dag->add_option("--format", format, "text, dot or json")->check(CLI::IsMember({"text", "dot", "json"}));

  std::string table, window_start;
  auto* show = app.add_subcommand("show", "Show a table: config, rendered SQL, upstreams, downstreams, lineage");
  AddCommon(show, &opts, &now_text);
  show->add_option("TABLE", table, "dataset.table")->required();
  show->add_option("--window-start", window_start, "Render the SQL for the window starting here");
  show->add_flag("--json", json, "Machine-readable output");

  bool once = false;
  auto* run = app.add_subcommand("run", "Build every window that is ready, upstream first");
  AddCommon(run, &opts, &now_text);
  run->add_flag("--once", once, "Build what is ready now and exit");
  run->add_option("--select,-s", select, "Tables to run: dataset.table, +table, table+, dataset.*, tag:name");
  run->add_flag("--json", json, "Machine-readable output");

  auto* status = app.add_subcommand("status", "Per table: watermark, freshness lag, last run, failures, what it waits on");
  AddCommon(status, &opts, &now_text);
  status->add_flag("--json", json, "Machine-readable output");

  int limit = 20;
  auto* log = app.add_subcommand("log", "The metadata log, newest first");
  AddCommon(log, &opts, &now_text);
  log->add_option("TABLE", table, "Only this table (dataset.table)");
  log->add_option("--limit", limit, "Rows to show (default 20)")->check(CLI::PositiveNumber);
  log->add_flag("--json", json, "Machine-readable output: one JSON object per line");

  std::string from_text, to_text;
  auto* backfill = app.add_subcommand("backfill", "Recompute the windows of one table in [--from, --to)");
  AddCommon(backfill, &opts, &now_text);
  backfill->add_option("TABLE", table, "dataset.table")->required();
  backfill->add_option("--from", from_text, "First instant to recompute")->required();
  backfill->add_option("--to", to_text, "End (exclusive) of the range to recompute")->required();
  backfill->add_flag("--json", json, "Machine-readable output");
  bool downstream = false;
  backfill->add_flag("--downstream", downstream, "Also recompute every downstream window that read them");

  std::string source, through_text;
  auto* source_cmd = app.add_subcommand("source", "Commands about raw sources");
  source_cmd->require_subcommand(1);
  auto* mark = source_cmd->add_subcommand("mark", "Record that a source is complete through a time");
  AddCommon(mark, &opts, &now_text);
  mark->add_option("SOURCE", source, "dataset.table")->required();
  mark->add_option("--through", through_text, "Data is complete up to (not including) this time")->required();

  std::string restate_from, restate_to;
  auto* restate = source_cmd->add_subcommand("restate", "A source's data in [--from, --to) was corrected: repair "
                                                        "every window that read it");
  AddCommon(restate, &opts, &now_text);
  restate->add_option("SOURCE", source, "dataset.table")->required();
  restate->add_option("--from", restate_from, "First corrected instant")->required();
  restate->add_option("--to", restate_to, "End (exclusive) of the corrected range")->required();
  restate->add_flag("--json", json, "Machine-readable output");

  std::string lineage_at;
  auto* lineage = app.add_subcommand("lineage", "The exact upstream runs a window was built from, recursively");
  AddCommon(lineage, &opts, &now_text);
  lineage->add_option("TABLE", table, "dataset.table")->required();
  lineage->add_option("--window", lineage_at, "An instant inside the window")->required();
  lineage->add_flag("--json", json, "Machine-readable output");

  std::string sql, sql_file;
  auto* query = app.add_subcommand("query", "Run SQL against the warehouse and print the result");
  AddCommon(query, &opts, &now_text);
  query->add_option("SQL", sql, "The query (or use --file)");
  query->add_option("--file,-f", sql_file, "Read the SQL from this file");
  query->add_flag("--json", json, "Machine-readable output: one JSON object per line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  opts.now = ParseTimeArg(now_text, "--now");

  using namespace derived::cli;
  if (init->parsed()) return Init(init_dir, std::cout, std::cerr);
  if (validate->parsed()) return Validate(opts, json, std::cout, std::cerr);
  if (dag->parsed()) {
    DagFormat f = format == "dot" ? DagFormat::kDot : format == "json" ? DagFormat::kJson : DagFormat::kText;
    return Dag(opts, select, f, std::cout, std::cerr);
  }
  if (show->parsed()) {
    return Show(opts, table, ParseTimeArg(window_start, "--window-start"), json, std::cout, std::cerr);
  }
  if (run->parsed()) {
    if (!once) {
      std::cerr << "error: the long-running service is not available yet: use `derived run --once`\n";
      return 2;
    }
    return Run(opts, select, json, std::cout, std::cerr);
  }
  if (status->parsed()) return Status(opts, json, std::cout, std::cerr);
  if (log->parsed()) return Log(opts, table, limit, json, std::cout, std::cerr);
  if (backfill->parsed()) {
    return Backfill(opts, table, *ParseTimeArg(from_text, "--from"), *ParseTimeArg(to_text, "--to"), downstream, json,
                    std::cout, std::cerr);
  }
  if (mark->parsed()) return SourceMark(opts, source, *ParseTimeArg(through_text, "--through"), std::cout, std::cerr);
  if (restate->parsed()) {
    return SourceRestate(opts, source, *ParseTimeArg(restate_from, "--from"), *ParseTimeArg(restate_to, "--to"), json,
                         std::cout, std::cerr);
  }
  if (lineage->parsed()) return Lineage(opts, table, *ParseTimeArg(lineage_at, "--window"), json, std::cout, std::cerr);
  if (query->parsed()) return Query(opts, sql, sql_file, json, std::cout, std::cerr);
  return 2;
}
