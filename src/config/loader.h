// Loads a project directory (derived.yaml, sources/, tables/, macros/) into a Project.
#pragma once

#include <string>

#include "config/model.h"
#include "util/diagnostics.h"

namespace derived {

struct LoadOptions {
  int threads = 0;                 // 0 = one per core
  bool project_file_only = false;  // read derived.yaml alone (commands that need only the warehouse)
};

// Reads every file of the project. Problems in individual files are added to `diags`
// (all of them, across all files) and the files that could be read are returned; a
// table or source whose file has errors is left out. Returns an error only when the
// project itself cannot be read (no derived.yaml, unreadable directory).
Result<Project> LoadProject(const std::string& dir, Diagnostics* diags, const LoadOptions& options = {});

// Single-file parsers, exposed for tests. `file` is the project-relative path used in
// errors, `text` its contents; defaults come from the folder layout and derived.yaml.
Status ParseProjectFile(const std::string& file, const std::string& text, Project* project, Diagnostics* diags);
std::optional<TableDef> ParseTableFile(const std::string& file, const std::string& text,
                                       const std::string& default_dataset, const std::string& default_name,
                                       const Project& project, Diagnostics* diags);
std::optional<SourceDef> ParseSourceFile(const std::string& file, const std::string& text,
                                         const std::string& default_dataset, const std::string& default_name,
                                         Diagnostics* diags);

// True for names usable unquoted in SQL: a letter or underscore, then letters, digits, underscores.
bool IsIdentifier(std::string_view name);

}  // namespace derived
