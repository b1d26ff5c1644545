// A shadow environment (`derived shadow build|list|drop`): the tables a branch defines
// differently from production, and everything downstream of them (shadow/plan.h), built
// into schemas of their own, shadow__ENV__DATASET, with their own state and log in
// shadow__ENV___derived. Their queries read the environment's version of what it builds
// and production's of everything else (no copy): the references are rewritten in the
// statement tree (sql::SqlParser::Redirect). Production's tables and `_derived` are only
// ever read; only schemas named shadow__ENV__... are ever written or dropped.
//
// Not thread-safe: one build at a time per Warehouse session (environments of their own
// names may be built at once on sessions of their own).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compile/compiler.h"
#include "engine/engine.h"
#include "shadow/plan.h"
#include "warehouse/warehouse.h"

namespace derived::shadow {

// Where an environment keeps its state and log: shadow__ENV___derived.
std::string MetadataSchemaOf(std::string_view env);

struct BuildOptions {
  std::string env;
  Timestamp now;
  // The windows built: those from the schedule period holding now - last (at least the
  // last whole period). nullopt: every window from each table's start (a full build,
  // what promotion needs).
  std::optional<Duration> last;
  // Replace tables read a repeatable Bernoulli sample of this percent (0 < p <= 100) of
  // every production table and source they read (the environment's own tables whole).
  std::optional<double> sample_percent;
  // The definitions the branch is compared with. nullopt: what production's state
  // records (what production runs); `derived ci` gives its base commit's.
  struct Base {
    std::map<std::string, std::string> hashes;  // table -> definition hash
    std::map<std::string, std::string> tests;   // table -> TestsHash
  };
  std::optional<Base> base;
};

struct BuiltTable {
  PlannedTable planned;
  std::string shadow_name;  // SCHEMA.table in the environment
  std::string strategy;     // "append", "merge", "replace", "view"
  // Append and merge tables: the first window built (nullopt: from the table's start).
  std::optional<Timestamp> from;
  bool sampled = false;  // a replace table that read a sample of production
  TableOutcome outcome;
};

struct BuildReport {
  std::string run_id;  // of the environment's log rows
  ShadowPlan plan;
  std::vector<BuiltTable> tables;  // parallel to plan.tables
  std::optional<Duration> last;    // as asked (nullopt: full)
  std::optional<double> sample_percent;
  Timestamp now;
  double seconds = 0;
  // Tables that failed, failed a test, or were skipped for a failed input (one waiting
  // for its inputs, as production's would, is not a failure).
  int failures() const;
};

// Builds `branch` (compiled without errors, from the branch's files) into environment
// `options.env` on `wh`, a session of the project's warehouse. Production's definitions
// are the hashes production's state records. An error only when nothing could be built
// (the plan, the metadata schema); a table that fails is in the report.
Result<BuildReport> Build(CompiledProject branch, std::unique_ptr<Warehouse> wh, const BuildOptions& options,
                          const ProgressFn& progress);

// Per table the environment built (production's name), the newest summary of its build
// in the environment's log: {environment, table, reason, branch_hash, full, from, outcome}.
// An error when there is no such environment.
Result<std::map<std::string, nlohmann::json>> BuiltTables(Warehouse& wh, std::string_view env);

// A field of such a summary, or "" / false / nullopt when it is missing or of another
// type (a row written by hand reads as nothing rather than failing).
std::string DetailText(const nlohmann::json& details, const char* key);
bool DetailFlag(const nlohmann::json& details, const char* key);
std::optional<double> DetailNumber(const nlohmann::json& details, const char* key);

struct EnvironmentInfo {
  std::string env;
  std::vector<std::string> schemas;  // every schema of it, its metadata's included
  int tables = 0;                    // tables with a state in it
  std::optional<Timestamp> last_built;  // the newest logical time it was built at
};
// Every environment in the warehouse, by name.
Result<std::vector<EnvironmentInfo>> List(Warehouse& wh);

// Drops every schema of the environment (shadow__ENV__...) and nothing else. An error
// naming the environments there are when there is no such environment.
Status Drop(Warehouse& wh, std::string_view env);

// Drops the environments last built more than `expire_after` before `now` (never built:
// kept), but `keep`; returns their names.
Result<std::vector<std::string>> Expire(Warehouse& wh, Timestamp now, Duration expire_after,
                                        std::string_view keep = "");

}  // namespace derived::shadow
