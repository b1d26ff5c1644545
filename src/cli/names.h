// Table and source names on the command line. Every command that takes one accepts
// `dataset.table`, or a bare `table` when exactly one candidate has that name, in any
// case; an ambiguous bare name is an error listing the candidates, an unknown one gets
// the closest name. Commands resolve here, before calling the engine, whose functions
// take qualified names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "util/status.h"

namespace derived {
struct Project;
}

namespace derived::cli {

// What a command's name may refer to.
enum class NameScope {
  kTable,       // a table the project defines (show, backfill, lineage, update)
  kSource,      // a source the project defines (source mark, source restate)
  kBuiltTable,  // a table the warehouse holds, defined or removed from the project (drop)
  kLogged,      // anything the project defines or the log has rows for (log)
};

// Every name there is to resolve against; qualified and lowercase.
struct NameCatalog {
  std::vector<std::string> tables, sources;  // defined in the project
  std::vector<std::string> broken;           // project files that failed to load
  std::vector<std::string> built;            // in _derived.state
  std::vector<std::string> logged;           // table_name values of _derived.log
};

// The qualified name `input` means in `scope`, or the reason it means none (a usage
// error: exit code 2).
Result<std::string> ResolveName(std::string_view input, NameScope scope, const NameCatalog& catalog);

// In a plain process, a qualified kTable or kSource name whose file is where the layout
// puts it (tables/<dataset>/<name>.yaml) and does not rename itself: resolved without
// loading the whole project. nullopt: use LoadNames and ResolveName.
std::optional<std::string> ResolveByLayout(const CommonOptions& opts, std::string_view input, NameScope scope);

// The project's names (and, for kBuiltTable and kLogged, the warehouse's) as the command
// would see them: inside the service, its current project version and its warehouse.
Result<NameCatalog> LoadNames(const CommonOptions& opts, NameScope scope);

// The project's own names (no warehouse).
NameCatalog ProjectNames(const Project& project);

}  // namespace derived::cli
