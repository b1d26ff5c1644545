// The metadata log and per-table state, stored in the warehouse's `_derived` schema so
// that SQL alone answers "when was this last updated", "how fresh is it" and "what did
// run X read". Every write here happens inside the caller's transaction, together with
// the data change it describes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/file_changes.h"
#include "engine/intervals.h"
#include "fleet/lease_book.h"
#include "warehouse/warehouse.h"

namespace derived {

inline constexpr const char* kMetaSchema = "_derived";

// How a mutation (or a command logged like one) ended, as its log row and the table's
// last_status say it: "success", "failed", "test_failed" (a data test rolled it back),
// "superseded" (another process wrote the table first: nothing was written).
enum class RunStatus { kSuccess, kFailed, kTestFailed, kSuperseded };
std::string_view RunStatusName(RunStatus s);

struct TableState {
  std::string table;  // dataset.table
  std::string definition_hash;
  int64_t version = 0;       // bumped when a rebuilt version is swapped in
  int64_t data_version = 0;  // bumped by every committed mutation: "has new data"
  IntervalSet completed;     // windows built for this version (append and merge)
  // Data before this instant is final (see engine/plan.h for the rule per strategy); for
  // a view with tests, where they last passed.
  std::optional<Timestamp> complete_through;
  std::string last_status;               // success, failed, test_failed
  std::string last_error;
  std::string last_run_id;
  int64_t consecutive_failures = 0;
  nlohmann::json inputs = nlohmann::json::object();  // upstreams read by the last success
  nlohmann::json config = nlohmann::json::object();  // strategy, partition_by, cluster_by, ...
  // True when this state is a row of _derived.state (loaded, or saved by this process);
  // false for a table that has none yet. Not stored.
  bool stored = false;
};

struct LogEntry {
  std::string run_id;
  std::string table;
  std::string definition_hash;
  std::string operation;  // create, append, merge, replace, rebuild, backfill, test, ...
  std::optional<Window> window;
  int64_t rows_inserted = 0, rows_updated = 0, rows_deleted = 0;
  nlohmann::json inputs = nlohmann::json::object();
  double started_at = 0, finished_at = 0;  // wall clock, seconds since the epoch
  Timestamp logical_now;                   // the run's notion of now (--now)
  RunStatus status = RunStatus::kSuccess;
  std::string error;
  nlohmann::json details;  // e.g. failing tests with sample rows

  // The one way a row is made: `operation` on `table`, started now (wall clock), a
  // success until the caller says otherwise; finished_at is set to the start too.
  static LogEntry Begin(std::string run_id, std::string table, std::string definition_hash, std::string operation,
                        Timestamp logical_now);
};

// A random id for one invocation of the engine (LogEntry::run_id).
std::string NewRunId();

// Facts about the code that ran, recorded on every log row.
struct Provenance {
  std::string git_commit;  // empty when the project is not in a git repository
  bool git_dirty = false;
  std::string derived_version;
};
Provenance CollectProvenance(const std::string& project_root);

class MetadataStore {
 public:
  // `schema`: `_derived` (production), or a shadow environment's metadata schema
  // (shadow/environment.h). An environment's store writes only there; it reads the states
  // of tables it has none of (production's, which its tables read) and every source mark
  // from `_derived`, and never writes it.
  MetadataStore(Warehouse* wh, Provenance provenance, std::string schema = kMetaSchema)
      : wh_(wh), provenance_(std::move(provenance)), schema_(std::move(schema)) {}
  const std::string& schema() const { return schema_; }

  // Creates the schema and its tables when missing. Safe to call on every start.
  Status EnsureSchema();

  // Every table's state, or only those of `tables` when given.
  Result<std::map<std::string, TableState>> LoadStates(const std::vector<std::string>* tables = nullptr);
  // Inside a transaction: the states of `tables` as the transaction's queries see the
  // tables themselves. On a shared warehouse each table's mutation in flight is waited
  // for and new ones are held off (a shared lock) until the transaction ends, so a
  // reader records the version it really read; a single writer's transaction is one
  // snapshot already.
  Result<std::map<std::string, TableState>> PinStates(const std::vector<std::string>& tables);
  // Forgets a table: its state row (the log keeps its history).
  Status DeleteState(const std::string& table);
  // Replaces the table's row with `next`. `base` is the state `next` was made from. On a
  // shared warehouse this takes the table's lock (Warehouse::LockTable, so the caller
  // must be in a transaction) and writes only when the row is still `base` (the same
  // version, data version and definition, or still absent when `base` is not stored):
  // another process's newer state is never overwritten with one made from an older.
  // Otherwise it fails with IsSuperseded.
  Status SaveState(const TableState& next, const TableState& base);
  // On a shared warehouse: takes the table's lock and compares its row with `base`
  // (as SaveState does). Returns the newer state another process committed, or nullopt
  // when the row is still `base` (always on a single-writer warehouse).
  // `building`: the definition hash a build writes the table with; with a fence, the
  // fleet's agreed project version must define the table so (Coordination::
  // AgreedDefines), or it fails IsFenced and nothing is written.
  Result<std::optional<TableState>> Claim(const std::string& table, const TableState& base,
                                          const std::string* building = nullptr);
  // True for SaveState's error when the row had moved on.
  static bool IsSuperseded(const Error& e);

  // On a shared warehouse, every Claim (so every mutation) also checks, inside its
  // transaction, that this process still holds the table's lease as `fence` records it;
  // otherwise it fails with IsFenced and nothing is written. A successful state
  // change with new data also announces the commit (Coordination::NotifyCommit).
  // nullptr: no fence (a single writer, or a process outside any fleet).
  void SetFence(std::shared_ptr<const fleet::LeaseBook> fence) { fence_ = std::move(fence); }
  // True for a Claim refused by the fence: the lease was lost, or the fleet runs another
  // definition of the table. Another process's business: nothing to log.
  static bool IsFenced(const Error& e);

  Status AppendLog(const LogEntry& entry);
  // A log row and the state change it records.
  Status Record(const LogEntry& entry, const TableState& next, const TableState& base);
  // A failed attempt, after its rollback, in a transaction of its own: the log row
  // `entry`, and `state` marked with the failure (status, error, run, one more failure).
  // When another process moved the row on meanwhile, only the log row is written and
  // `state` becomes that process's state.
  Status RecordFailure(const LogEntry& entry, TableState* state);

  // When each table last committed successfully, ISO-8601 (status).
  Result<std::map<std::string, std::string>> LastSuccess();
  // Per table, the seconds its logged runs took (finished_at - started_at, whatever their
  // status) among those that finished at or after `since`, for sizing its process
  // (`derived deploy k8s`). Reads only: none when the log does not exist yet.
  Result<std::map<std::string, double>> RunSeconds(Timestamp since);
  // The newest `limit` log rows (of `table` when not empty), newest first, as `derived
  // log` shows them: every column when `raw`, else the readable ones.
  Result<Rows> ReadLog(const std::string& table, int limit, bool raw);

  // The names of the tables with a state row (built, not dropped), or of every table
  // the log names; none when the metadata tables do not exist yet (nothing read creates them).
  enum class NameSource { kState, kLog };
  Result<std::vector<std::string>> TableNames(NameSource source);
  // A successful mutation of a table, as lineage reads it.
  struct Run {
    std::string run_id, operation, started_at, finished_at;
    Window window;  // empty ({}) when the row has none
    nlohmann::json inputs;
  };
  // Successful runs of `table` that wrote data in `range` (any when nullopt), committed
  // no later than `before` (empty: any time), newest first.
  Result<std::vector<Run>> Runs(const std::string& table, std::optional<Window> range, const std::string& before);

  // Source completeness set by `derived source mark` (always production's).
  Result<std::map<std::string, Timestamp>> LoadMarks();
  Status SetMark(const std::string& source, Timestamp through, Timestamp now);

  // The fingerprints of the files of a file source as last read (see file_changes.h).
  Result<std::vector<FileFingerprint>> LoadFiles(const std::string& source);
  // Replaces them, in a transaction of its own.
  Status SaveFiles(const std::string& source, const std::vector<FileFingerprint>& files, Timestamp now);

 private:
  Status Prepared();
  // Announces a state change with new data to other processes (when they can listen).
  Status Announced(const TableState& next, const TableState& base);

  Warehouse* wh_;
  Provenance provenance_;
  std::string schema_;
  std::shared_ptr<const fleet::LeaseBook> fence_;
  std::unique_ptr<Statement> log_insert_, state_update_, state_insert_;
};

// Wall-clock seconds since the epoch with sub-second precision, for log durations.
double WallSeconds();

}  // namespace derived
