// `derived shadow promote`: production takes a shadow environment's build of a table
// instead of rebuilding it, where that is provably what a rebuild would make: the
// environment built the table in full (no --last), from the definition production now
// has, and every input it read is, now, exactly as it read it (production's tables and
// sources by their recorded versions and completeness; the environment's own inputs
// promoted first, unchanged since). The build is copied into the table's staging table
// and swapped in by the engine's own writer, with the state and a `promote` log row, in
// one transaction. Anything else is left to be rebuilt as usual, with the reason why.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compile/compiler.h"
#include "warehouse/warehouse.h"

namespace derived::shadow {

struct Promotion {
  std::string table;
  bool promoted = false;
  std::string why;  // promoted: what was swapped in; else why not
  int64_t rows = 0;
};

// `project`: production's definitions as they are now (the merged branch).
// REQUIRES: project outlives the call.
Result<std::vector<Promotion>> Promote(const CompiledProject& project, std::unique_ptr<Warehouse> wh,
                                       std::string_view env, Timestamp now);

}  // namespace derived::shadow
