// Shared by the commands: compile the project the options name, printing a fatal error.
#pragma once

#include <iosfwd>
#include <optional>

#include "cli/commands.h"
#include "compile/compiler.h"

namespace derived::cli {

std::optional<CompiledProject> CompileFor(const CommonOptions& opts, bool type_check, std::ostream& err);
// Prints every diagnostic, one per line.
void PrintDiagnostics(const Diagnostics& diags, std::ostream& err);

}  // namespace derived::cli
