// `derived shadow diff`: what each table of a shadow environment holds against
// production's, over the range the environment built, and whether the change is
// breaking for what reads the table (from the names each reader's SQL mentions).
// Reads only; the SQL is standard and runs as written on both engines.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compile/compiler.h"
#include "warehouse/warehouse.h"

namespace derived::shadow {

struct ColumnChange {
  std::string name;
  std::string production_type, shadow_type;  // empty for the side that lacks it
};

enum class Impact {
  kNew,          // production has no such table: nothing reads it there
  kNone,         // same schema and rows over the range
  kNonBreaking,  // changed, but no reader reads what changed (a new column nobody reads)
  kBreaking,     // a reader reads what changed: it must rebuild
  kUnknown,      // it could not be compared: counted as breaking
};
std::string_view ImpactName(Impact i);  // "new", "unchanged", "non-breaking", "breaking", "unknown"

struct TableDiff {
  std::string table, shadow;  // production's name and the environment's
  std::string reason;         // new, changed, downstream (shadow/plan.h)
  std::string strategy;
  // The range compared: [from, to) of the time column (append and merge tables built
  // with --last), else the whole table.
  std::optional<Timestamp> from, to;
  // Built from a range only: whole, from inputs the environment built over a range, or a
  // merge table (which accumulates) built over one. Differences may come from the range.
  bool inputs_limited = false;
  std::vector<ColumnChange> added, removed, retyped;
  int64_t production_rows = 0, shadow_rows = 0;
  // Per schedule period where the counts differ (append tables): start, production, shadow.
  struct WindowCount {
    std::string window;
    int64_t production = 0, shadow = 0;
  };
  std::vector<WindowCount> windows;
  std::vector<std::string> keys;                    // merge keys or a unique test's; empty: none
  int64_t keys_added = 0, keys_removed = 0, keys_changed = 0;
  std::vector<std::pair<std::string, int64_t>> changed_values;  // per column, rows whose value differs (keyed)
  int64_t only_in_production = 0, only_in_shadow = 0;          // rows, as multisets (no keys)
  nlohmann::json sample = nlohmann::json::array();              // differing rows, a few of each kind
  Impact impact = Impact::kNone;
  std::vector<std::string> changed_columns;  // what changed that readers could read
  std::vector<std::string> affected;         // readers that read it, and their downstream
  std::string error;                         // when the table could not be compared
};

struct DiffReport {
  std::string env;
  std::vector<TableDiff> tables;
  bool any_breaking() const;
};

// The diff of every table environment `env` built (as its log records it), with
// `branch` (the branch's project, as compiled) for keys, time columns and readers.
// An error when there is no such environment.
Result<DiffReport> Diff(Warehouse& wh, const CompiledProject& branch, std::string_view env, Timestamp now);

nlohmann::json DiffJson(const DiffReport& report);
std::string DiffText(const DiffReport& report);
// One line per table: its impact, rows and keys, and the readers it breaks.
std::string DiffSummary(const DiffReport& report);

}  // namespace derived::shadow
