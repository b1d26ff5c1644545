// Carries out a plan for one table (engine/plan.h decides it): renders its SQL per batch,
// checks its columns (column_check.h), writes with the strategy's writer
// (warehouse/writer.h), runs its data tests (audit.h) and records the log rows and new
// state (metadata/store.h), each step in one transaction. Failures roll back and are
// logged after the rollback, explained by query_errors.h. A builder uses its context's
// session from the calling thread only.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compile/compiler.h"
#include "metadata/store.h"
#include "engine/definition_hash.h"
#include "engine/plan.h"
#include "warehouse/warehouse.h"

namespace derived {

struct BuildProgress {
  std::string table;
  int windows_done = 0, windows_total = 0;
  int64_t rows = 0;
};

// A table's rendered query -> the query to run instead, or why it cannot be.
using SqlRewrite = std::function<Result<std::string>(const TableDef& def, const std::string& sql)>;

struct BuildContext {
  Warehouse* wh = nullptr;
  MetadataStore* meta = nullptr;
  const CompiledProject* cp = nullptr;
  std::string run_id;
  Timestamp now;
  std::function<void(const BuildProgress&)> on_progress;  // optional
  // When set, a multi-batch build stops after the batch it is in (the service stopping).
  const std::atomic<bool>* cancel = nullptr;
  // When set, every query of the table and of its custom tests, once rendered, is run as
  // this returns it (a shadow environment's reads: shadow/environment.h).
  SqlRewrite rewrite;
};

struct BuildRequest {
  const CompiledTable* table = nullptr;
  std::string definition_hash;
  Plan plan;
  std::vector<UpstreamStatus> upstream;
  std::optional<TableState> state;  // as loaded; nullopt for a table never seen
  bool backfill = false;            // recompute completed windows (logged as "backfill")
  // The project's views that read the table, directly or through other views
  // ("dataset.name"): each is made again by its own updater after a rebuild.
  std::set<std::string> own_views;
};

struct BuildResult {
  RunStatus status = RunStatus::kFailed;
  std::string error;   // for failures: the engine's message or the failing tests
  int windows = 0;     // schedule periods committed
  int64_t inserted = 0, updated = 0, deleted = 0;
  TableState state;    // the table's state afterwards
  bool ok() const { return status == RunStatus::kSuccess; }
};

BuildResult Build(BuildContext& ctx, const BuildRequest& req);

// Brings a built table's comments and recorded metadata up to date with `def`, logged as
// a `metadata` operation, in one transaction. Returns the new state.
Result<TableState> UpdateMetadata(BuildContext& ctx, const TableDef& def, const TableState& state,
                                  const std::string& metadata_hash);

}  // namespace derived
