// The build engine: looks at every table, decides what is ready, builds it, and keeps
// going past failures. `derived run --once`, `backfill`, `status` and `source mark` are
// thin layers over this class. One class, a file per job: engine.cc (open, plan and build
// each table, a run), engine_repair.cc (backfills, restatements, propagation),
// engine_status.cc (status, storage, the plan of a reload), engine_removed.cc (removed
// tables, retention, drops), engine_files.cc (file sources that change).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compile/compiler.h"
#include "engine/builder.h"
#include "engine/plan.h"
#include "metadata/store.h"
#include "warehouse/warehouse.h"

namespace derived {

// What one table's step came to.
enum class StepStatus {
  kBuilt,       // a mutation committed
  kUpdated,     // metadata only (comments)
  kUpToDate,    // nothing to do
  kWaiting,     // waits for an input
  kSkipped,     // an input failed or was skipped
  kSuperseded,  // another process wrote it first: nothing written
  kRemoved,     // gone from the project; its data kept until its retention ends
  kDropped,     // dropped after its retention
  kFailed,
  kTestFailed,  // a data test rolled the mutation back
};
// "built", "updated", "up_to_date", "waiting", "skipped", "superseded", "removed",
// "dropped", "failed", "test_failed": as `run` prints it and --json writes it.
std::string_view StepStatusName(StepStatus s);
// The step status of a build that did not succeed.
StepStatus StepStatusOf(RunStatus s);

struct TableOutcome {
  std::string table;
  StepStatus status = StepStatus::kFailed;
  std::string detail;  // what was done, or why not
  int windows = 0;
  int64_t rows = 0;  // inserted + updated
  double seconds = 0;
  bool failed() const { return status == StepStatus::kFailed || status == StepStatus::kTestFailed; }
};

struct RunReport {
  std::string run_id;
  std::vector<TableOutcome> tables;
  int failures() const;
};

// One node's line in `derived status`: a table, or a source (strategy "source", schedule
// its freshness kind).
struct TableStatus {
  std::string table;
  std::string strategy, schedule;
  std::optional<Timestamp> complete_through;
  std::optional<int64_t> lag_seconds;  // now - complete_through, at least 0
  std::string last_run;                // finished_at of the last success, as text
  std::string last_status;
  int64_t consecutive_failures = 0;
  bool failing = false;  // kFailingAfter failures in a row
  std::string last_error;
  std::string next;        // what a run would do now: wait reason or action
  std::vector<std::string> waiting_on;
};

// Failures in a row after which a table's status is `failing`.
inline constexpr int kFailingAfter = 3;

using ProgressFn = std::function<void(const BuildProgress&)>;

// What the engine derives once from a compiled project, shared by every engine working
// on that version of the project.
struct ProjectAnalysis {
  const CompiledProject* cp = nullptr;
  Provenance provenance;                              // the git commit the project came from
  std::map<std::string, std::string> hashes;          // table -> definition hash
  std::map<std::string, std::string> metadata_hashes; // table -> MetadataHash
  std::map<std::string, std::string> tests_hashes;    // table -> TestsHash
  std::map<std::string, std::string> broken;          // table -> first error in its definition
  std::set<std::string> window_as_value;              // tables whose SQL outputs its window bounds
};
// REQUIRES: cp outlives the result.
std::shared_ptr<const ProjectAnalysis> AnalyzeProject(const CompiledProject& cp);

// What changed in the files of one file source since Derived last read them.
struct FileSourceChanges {
  std::string source;
  std::vector<FileFingerprint> files;  // what is there now, to record
  std::vector<FileDiff> diffs;         // empty the first time the source is seen
  std::optional<Window> restated;      // the restatement they mean (see RestatedRange)
};

// Where an engine keeps its metadata and what it does to the SQL it runs: production's
// by default, or a shadow environment's (shadow/environment.h).
struct EngineScope {
  std::string metadata_schema = kMetaSchema;  // MetadataStore's schema
  SqlRewrite rewrite;                         // BuildContext::rewrite
};

class Engine {
 public:
  // REQUIRES: cp outlives the engine.
  static Result<std::unique_ptr<Engine>> Open(const CompiledProject* cp, Timestamp now);
  // An engine on a warehouse session the caller opened (the service gives each worker its
  // own). Sources start unknown: call LoadSources or SetSources.
  static Result<std::unique_ptr<Engine>> Open(std::shared_ptr<const ProjectAnalysis> analysis,
                                              std::unique_ptr<Warehouse> wh, Timestamp now, EngineScope scope = {});

  void SetNow(Timestamp now) { now_ = now; }
  const std::string& run_id() const { return run_id_; }  // of every log row it writes
  // Builds stop between batches once *cancel is true. REQUIRES: cancel outlives the engine.
  void SetCancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  Timestamp now() const { return now_; }

  // Reads every source's completeness: marks, freshness queries, and whether file
  // sources have files.
  derived::Status LoadSources();
  const std::map<std::string, UpstreamStatus>& sources() const { return sources_; }
  void SetSources(std::map<std::string, UpstreamStatus> sources) { sources_ = std::move(sources); }

  // One table's updater step: reloads its state and its upstreams' from the warehouse,
  // then creates, rebuilds, repairs, updates metadata, adds the ready windows, or waits.
  TableOutcome Step(const std::string& table, const ProgressFn& progress);

  // What a reload of the project into this warehouse would do, table by table.
  Result<std::vector<PlannedChange>> PlanChanges();

  // Deletes a table that is no longer in the project, with its state; logged, with
  // `reason` in the log row's details when given.
  derived::Status Drop(const std::string& table, const std::string& reason = "");

  // Tables removed from the project: records when each was first seen gone (logged
  // 'removed'), and drops those kept longer than the project's `removed_tables.keep_for`.
  // (A table defined again loses its removal date at its next step.) Returns what it did,
  // one per table: "removed", "dropped", or "failed" with the reason; an error only when
  // the states cannot be read.
  Result<std::vector<TableOutcome>> SweepRemoved();

  // Builds every ready window of every table (or of those `select` picks), upstream
  // first, so new data flows through the whole DAG in one run.
  Result<RunReport> RunOnce(const std::string& select, const ProgressFn& progress);
  // The same for exactly `tables` (qualified names), nothing else.
  Result<RunReport> RunTables(const std::vector<std::string>& tables, const ProgressFn& progress);

  // Recomputes the windows of one table in [from, to) and, with `downstream`, every
  // window downstream that read them, in dependency order.
  Result<RunReport> Backfill(const std::string& table, Timestamp from, Timestamp to, bool downstream,
                             const ProgressFn& progress);

  // A source's data in [from, to) was corrected: recompute every window that read it,
  // all the way down.
  Result<RunReport> Restate(const std::string& source, Timestamp from, Timestamp to, const ProgressFn& progress);

  // The file sources whose files differ from what was recorded, or were never recorded.
  Result<std::vector<FileSourceChanges>> FileChanges();
  // Restates what `changes` restate (logged, repaired downstream), then records the
  // files; a source whose repairs failed is not recorded, so the next look tries again.
  void ApplyFileChanges(const std::vector<FileSourceChanges>& changes, const ProgressFn& progress,
                        RunReport* report);

  // Every source and table in the project by name, then every table removed from it
  // whose data is kept.
  Result<std::vector<TableStatus>> Status();
  // How the warehouse stores `table` (Warehouse::DescribeStorage), for `derived show`.
  Result<std::vector<std::string>> Storage(const TableDef& table);

  // Records that a marker source is complete through `through`, then reloads sources().
  derived::Status MarkSource(const std::string& source, Timestamp through);

  // What a reader would record of `name` (a table or source) now, as its log's inputs
  // hold it (UpstreamStatus::Snapshot), from the states and sources last loaded.
  nlohmann::json InputSnapshot(const std::string& name) const { return StatusOf(name).Snapshot(); }

  Warehouse& warehouse() { return *wh_; }
  MetadataStore& metadata() { return *meta_; }

 private:
  Engine() = default;
  derived::Status LoadStates();
  // RunOnce over the graph's nodes in `selected` (all when nullopt, which also sweeps
  // removed tables and changed files first).
  Result<RunReport> RunNodes(const std::optional<std::set<int>>& selected, const ProgressFn& progress);
  // A new log row of `operation` on `table`, successful unless the caller says otherwise.
  LogEntry Entry(const std::string& table, const std::string& definition_hash, const char* operation) const;
  // A built table no longer in the project: kept, not updated.
  bool Removed(const TableState& st) const;
  // Every table or source whose file does not load, with why. `record`: for one Derived
  // built, the problem goes into its state and the log (once per distinct problem).
  std::vector<std::pair<std::string, std::string>> BrokenFiles(bool record);
  // For a table removed from the project: since when, and what happens to its data.
  static std::optional<Timestamp> RemovedAt(const TableState& st);
  std::string RemovalNote(const TableState& st) const;
  // Reloads the states of `table` and its upstream tables.
  derived::Status ReloadStates(const CompiledTable& t);
  // Builds, updates metadata or waits: the decision for one valid table whose upstreams
  // are not blocked.
  TableOutcome Update(const CompiledTable& t, const ProgressFn& progress);
  // What a reader knows of `name`; `depth` bounds a chain of views read through.
  UpstreamStatus StatusOf(const std::string& name, int depth = 0) const;
  // The tables whose states `t`'s decision reads: itself, its upstreams, and through
  // views, theirs.
  std::vector<std::string> StatesRead(const CompiledTable& t) const;
  // The source of that name, or an error suggesting the closest one.
  Result<const SourceDef*> FindSource(const std::string& name) const;
  std::vector<UpstreamStatus> UpstreamsOf(const CompiledTable& t, int depth = 0) const;
  PlanInput PlanInputFor(const CompiledTable& t, const std::vector<UpstreamStatus>& ups) const;
  // Why a table cannot be built at all (invalid definition, cycle), or empty.
  std::string BrokenReason(const CompiledTable& t) const;
  TableOutcome BuildTable(const CompiledTable& t, const Plan& plan, bool backfill, const ProgressFn& progress);
  void RecordBroken(const CompiledTable& t, const std::string& reason);
  // The repair of a built table after `changed` changed in its inputs (or, when
  // `explicit_windows`, in itself); see PlanRepair.
  Result<std::optional<Repair>> RepairOf(const CompiledTable& t, Window changed, bool explicit_windows) const;
  // How far any table took `source` as complete when it last read it (from the states'
  // recorded inputs): what a change to its data can have made stale.
  Result<std::optional<Timestamp>> CompletenessRead(const std::string& source);
  // A source's data in `changed` was corrected: logged (with `details`), then repaired.
  void RestateRange(const std::string& source, Window changed, nlohmann::json details, const ProgressFn& progress,
                    RunReport* report);
  // Plans and builds the repair of `changed` (RepairOf), planned again when another
  // process's commit supersedes it. nullopt when nothing was built: nothing to repair,
  // or a view (then `changes` holds what shows through it). `planned`, when given, is
  // the first attempt's repair, planned by the caller already.
  std::optional<TableOutcome> ApplyRepair(const CompiledTable& t, Window changed, bool explicit_windows,
                                          const ProgressFn& progress, std::optional<Window>* changes,
                                          std::optional<std::optional<Repair>> planned = std::nullopt);
  // Repairs every table downstream of the changed ones, upstream first.
  void Propagate(std::map<std::string, Window> changed, const ProgressFn& progress, RunReport* report);

  std::shared_ptr<const ProjectAnalysis> an_;
  const CompiledProject* cp_ = nullptr;
  Timestamp now_;
  std::unique_ptr<Warehouse> wh_;
  std::unique_ptr<MetadataStore> meta_;
  SqlRewrite rewrite_;
  std::string run_id_;
  const std::atomic<bool>* cancel_ = nullptr;
  std::map<std::string, TableState> states_;
  std::map<std::string, UpstreamStatus> sources_;
};

}  // namespace derived
