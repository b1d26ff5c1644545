// The files a deployed process needs to load the project: exactly those the loader reads
// (derived.yaml, every source and table file, each table's sql_file, the macros). Data
// files are never among them: a fleet runs on a server warehouse, where file sources are
// refused (config/loader.cc), so the data is in the warehouse already.
#pragma once

#include <string>
#include <vector>

#include "config/model.h"
#include "util/status.h"

namespace derived::deploy {

struct ProjectFile {
  std::string path;   // project-relative, '/'-separated
  std::string bytes;  // the contents
};

// The project-relative paths of the files `project` was loaded from, sorted, each once.
// An error names a file outside the project (a sql_file reaching up with ..), which a
// copy of the project could not hold.
Result<std::vector<std::string>> ProjectFilePaths(const Project& project);

// Those files with their contents, read from project.root (each at most the loader's
// limit); an error names a file that cannot be read.
Result<std::vector<ProjectFile>> ReadProjectFiles(const Project& project);

}  // namespace derived::deploy
