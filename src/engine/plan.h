// Deciding what a table needs now: pure functions of its definition, its state, what its
// upstreams have completed and the time. No I/O, so every rule is unit-testable.
//
// Readiness: a window [s, e) is ready when e <= now and every upstream that gates it is
// complete through e ("as soon as the inputs have new data, but no sooner"). Sources and
// append/merge tables gate by their watermarks; a `replace` upstream (a lookup) only needs
// to exist, and readers use its latest version.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "engine/metadata.h"

namespace derived {

// What a table knows about one input when it decides.
struct UpstreamStatus {
  std::string name;
  bool is_source = false;
  Strategy strategy = Strategy::kAppend;  // tables only
  bool exists = false;                    // has data (built at least once / source present)
  std::optional<Timestamp> watermark;     // complete through; nullopt = nothing yet
  int64_t data_version = 0;               // tables: bumped on each commit
  int64_t version = 0;                    // tables: bumped when a rebuilt version is swapped in
  std::string definition_hash;            // tables
  std::string problem;                    // why the watermark is unknown (failed freshness query, ...)

  bool gates() const { return is_source || strategy != Strategy::kReplace; }
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
  kCreate,    // new table: populate from start, batch by batch
  kAppend,    // add the windows that became ready (append or merge strategy)
  kReplace,   // rebuild a replace table for the latest period
  kRebuild,   // definition changed: build a new version from scratch and swap it in
};
std::string_view ActionName(Action a);

struct Plan {
  Action action = Action::kWait;
  std::vector<Batch> batches;
  std::string reason;                   // why waiting, or why rebuilding
  std::vector<std::string> waiting_on;  // upstream names holding it back
  std::optional<Timestamp> ready_through;  // the end of the last window that is ready
};

struct PlanInput {
  const TableDef* def = nullptr;
  std::string definition_hash;
  bool initial_sql_differs = false;  // the template branches on is_initial_build
  bool window_as_value = false;      // the SQL outputs window_start/window_end, not only filters on them
  const TableState* state = nullptr;  // nullptr for a table never built
  std::vector<UpstreamStatus> upstream;
  Timestamp now;
};

Plan PlanTable(const PlanInput& in);

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
