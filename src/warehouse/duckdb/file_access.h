// The files the engine may read and write for a project (db/lockdown.h): the warehouse
// and the type-check open their DuckDB databases with these and no more.
#pragma once

#include <string>

#include "config/model.h"
#include "db/lockdown.h"

namespace derived {

// The project directory, and each file source's location: the directory before its
// glob's first wildcard, or the file itself when it has none. (DuckDB allows the
// warehouse's own file, WAL and temp directory by itself.)
db::FileAccess ProjectFileAccess(const Project& project);

// A file source's glob as an absolute path (a relative location is relative to `root`).
std::string SourceGlob(const std::string& root, const SourceDef& s);

}  // namespace derived
