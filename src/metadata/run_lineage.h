// Run-level lineage from the metadata log: the exact upstream runs a table's window was
// built from, recursively down to the sources and the completeness they reported.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compile/compiler.h"
#include "warehouse/warehouse.h"

namespace derived {

struct LineageRun {
  enum class Kind { kTable, kSource, kView };
  std::string table;
  Kind kind = Kind::kTable;
  bool lookup = false;  // read at its newest version, never waited for
  // Tables: the run that wrote the data that was read.
  std::string run_id, operation, finished_at;
  Window window;
  // Complete through this point when read (from the reader's `inputs`); empty: unknown.
  std::string complete_through;
  int64_t version = -1;  // tables and views: the data version read (-1: unknown)
  std::vector<LineageRun> inputs;

  nlohmann::json ToJson() const;
};

// The runs behind the window of `table` holding `at`: its latest successful run covering
// that instant, and for each input, the runs that had committed the data it read. Views
// store nothing: the trace passes through them to what they read.
Result<LineageRun> TraceLineage(Warehouse& wh, const CompiledProject& cp, const std::string& table, Timestamp at);

// An indented tree, one run per line.
std::string FormatLineage(const LineageRun& root);

}  // namespace derived
