// Deciding what a table needs now: pure functions of its definition, its state, how far
// its inputs are complete and the time. No I/O, so every rule is unit-testable.
//
// Completeness, one rule for every node: each knows a `complete_through` instant, before
// which its data is final.
//   source            its mark or freshness query; `freshness: static`: kEndOfTime
//   append / merge    the end of its contiguous completed windows
//   replace           its inputs' completeness when it was last built, capped at now and
//                     floored to its schedule: floor_P(min(now, min over inputs))
//   view              the minimum over its inputs, live (capped where its tests last passed)
// A window [s, e) is ready when e <= now and every input is complete through e ("as soon
// as the inputs have new data, but no sooner"). An input declared `lookup: true` gates
// nothing: it only has to exist, and readers use its newest version.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "metadata/store.h"

namespace derived {

// What a table knows about one input when it decides.
struct UpstreamStatus {
  std::string name;
  bool is_source = false;
  Strategy strategy = Strategy::kAppend;  // tables only
  bool lookup = false;                    // never gates: readers use the newest version
  bool exists = false;                    // has data (built at least once / source present)
  std::optional<Timestamp> complete_through;  // nullopt = nothing complete yet
  int64_t data_version = 0;               // tables: bumped on each commit
  int64_t version = 0;                    // tables: bumped when its history is rewritten
  std::string definition_hash;            // tables
  std::string problem;                    // why completeness is unknown (failed freshness query, ...)
  nlohmann::json through;                 // a view: the snapshots of what it reads (for lineage)

  bool gates() const { return !lookup; }
  // A table input: takes what its state says (existence, completeness, versions).
  void Take(const TableState& state);
  // The snapshot recorded in the log's `inputs` for lineage.
  nlohmann::json Snapshot() const;
};

// One query's worth of work: the rows it writes and the range its SQL reads.
struct Batch {
  Window write;  // append: rows of [start, end) are replaced; merge: windows covered
  Window read;   // window_start / window_end in the template
  bool initial = false;
  int windows = 1;  // schedule periods covered
};

enum class Action {
  kWait,      // nothing to do yet (see Plan::reason)
  kCreate,    // new table: populate from start, batch by batch (a view: create it)
  kAppend,    // add the windows that became ready (append or merge strategy)
  kReplace,   // rebuild a replace table for its new completeness
  kRebuild,   // history rewritten: build a new version from scratch and swap it in
  kTest,      // a view's inputs advanced: run its data tests
};
std::string_view ActionName(Action a);

struct Plan {
  Action action = Action::kWait;
  std::vector<Batch> batches;
  std::string reason;                   // why waiting, or why rebuilding
  std::vector<std::string> waiting_on;  // upstream names holding it back
  std::optional<Timestamp> ready_through;  // the end of the last window that is ready
  // Replace and view: the completeness recorded when the plan commits (append and merge
  // derive theirs from the windows they complete).
  std::optional<Timestamp> complete_through;
  // A replace table's new contents may differ from the old before the old completeness
  // (a new definition, a rewritten input, a repair), not only add to it: its version
  // moves on, and what read it is rebuilt.
  bool rewrites = false;
  // Not empty: the plan would cover more windows than the project allows in one run
  // (limits.max_windows_per_run); nothing runs and the table fails with this message.
  std::string refused;

  int windows() const;  // schedule periods the batches cover
};

struct PlanInput {
  const TableDef* def = nullptr;
  std::string definition_hash;
  bool initial_sql_differs = false;  // the template branches on is_initial_build
  bool window_as_value = false;      // the SQL outputs window_start/window_end, not only filters on them
  const TableState* state = nullptr;  // nullptr for a table never built
  std::vector<UpstreamStatus> upstream;
  Timestamp now;
  int64_t max_windows = kDefaultMaxWindowsPerRun;  // more periods than this: refused
};

Plan PlanTable(const PlanInput& in);

// The upstream table whose history was rewritten since this table last read it (built
// from a new definition, or rebuilt into a new version), or empty. A version moves only
// with a rewrite; new data only moves the data version.
std::string RewrittenUpstream(const PlanInput& in);

// The table's state once `written` (windows of the plan's batches; all of them for a
// plan that commits in one transaction) has committed: completed windows, version and
// completeness. What the builder records, and what `derived plan` simulates.
// `definition_hash` and `inputs` are what the build ran with.
TableState StateAfter(const TableDef& def, const TableState& before, const Plan& plan,
                      const std::vector<Window>& written, const std::string& definition_hash,
                      const nlohmann::json& inputs);

// How far the gating inputs are complete: their minimum, kEndOfTime when none gates,
// nullopt when one has nothing complete.
std::optional<Timestamp> InputsCompleteThrough(const std::vector<UpstreamStatus>& upstream);

// What a replace table is complete through when built now from these inputs.
std::optional<Timestamp> ReplaceCompleteThrough(const TableDef& def, const std::vector<UpstreamStatus>& upstream,
                                                Timestamp now);

// What a view is complete through for its readers: its inputs' completeness, and with
// data tests, no further than where they last passed (a failing view holds its readers).
std::optional<Timestamp> ViewCompleteThrough(const TableDef& def, const TableState* state,
                                             const std::vector<UpstreamStatus>& upstream);

// Repairing a built table after data it read (or, with `explicit_windows`, its own
// windows) changed in `changed`.
struct RepairInput {
  const TableDef* def = nullptr;
  std::string definition_hash;
  const TableState* state = nullptr;
  bool window_as_value = false;
  Window changed;
  bool explicit_windows = false;  // a backfill of this table, not a change upstream
  Timestamp now;
  int64_t max_windows = kDefaultMaxWindowsPerRun;  // more periods than this: an error
};
struct Repair {
  Plan plan;       // kWait: nothing to rebuild (a view without tests), changes pass through
  Window changes;  // the range of this table's data the repair changes, for its readers
};
// nullopt: nothing built there to repair (or the table is rebuilt anyway). An error only
// for an explicit backfill of windows the table does not have.
Result<std::optional<Repair>> PlanRepair(const RepairInput& in);

// The operation a build's log rows name: "backfill" for a backfill (but "test" when it
// only tests), else the plan's action, and for a table's new windows its strategy
// ("append", "merge").
std::string_view OperationName(const Plan& plan, Strategy strategy, bool backfill);

// What loading a new project version does to one table (`derived plan`, and the log row
// of a service's reload).
enum class Change {
  kNone,      // nothing beyond what a run would do anyway
  kCreate,    // never built
  kRebuild,   // its definition changed: a new version
  kRepair,    // an upstream is rebuilt into a new version: rebuilt from it
  kMetadata,  // description, owner, tags or tests changed: no rebuild
  kRefused,   // it would cover more windows than one run may
  kBroken,    // its file does not load: kept as it is
  kRemoved,   // its file is gone: kept until its retention ends
};
std::string_view ChangeName(Change c);

struct PlannedChange {
  std::string table;
  Change change = Change::kNone;
  std::string detail;
  int windows = 0;
  nlohmann::json ToJson() const;
};

// The change `plan` (made from `in`) makes to its table, given the metadata hash of its
// new definition (engine/definition_hash.h).
PlannedChange ChangeOf(const PlanInput& in, const Plan& plan, const std::string& metadata_hash);

// Everything: what a rebuilt merge or replace table may have changed.
inline constexpr Window kAllTime{Timestamp{-(int64_t{1} << 50)}, Timestamp{int64_t{1} << 50}};

// Windows per query when building many at once (see TableDef::batch). A query over
// several periods equals the per-period queries only when each period reads exactly
// itself and the SQL uses the window bounds as filters, not as output values.
int64_t BatchSize(const TableDef& def, bool window_as_value);

// True when rendered SQL uses the window bounds other than in a comparison, e.g.
// `SELECT {{ window_start }} AS day`: such a query cannot build several windows at once.
// `start_literal` and `end_literal` are the bounds as they appear in `sql`.
bool UsesWindowAsValue(const std::string& sql, const std::string& start_literal, const std::string& end_literal);

// Splits the schedule periods of [from, to) into batches of at most `per_batch`.
std::vector<Batch> MakeBatches(const TableDef& def, Timestamp from, Timestamp to, int64_t per_batch, bool initial);

}  // namespace derived
