// The engine locked down: every DuckDB database Derived opens (the warehouse, and the
// in-memory ones that parse and type-check) reaches no network and no file beyond what
// it is given, and no SQL run on it afterwards can widen that. Database::Open applies it:
//  - extensions: never installed or autoloaded at run time; the ones Derived uses (json,
//    parquet, icu: statically linked into libduckdb) are loaded at open. Community and
//    unsigned extensions are refused, and both install repositories point at a local
//    path that does not exist, so an INSTALL that got past everything else would still
//    have nothing to download from;
//  - files: enable_external_access is off, so DuckDB reads and writes only its own
//    database file, WAL and temp directory, plus FileAccess's directories and paths;
//  - configuration: lock_configuration is on, so no SET or RESET can change any setting
//    (SET search_path still works: DuckDB does not count it as configuration).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "util/status.h"

namespace derived::db {

class Connection;

// What a database may read and write besides its own files.
struct FileAccess {
  std::vector<std::string> directories;  // absolute; everything under each
  std::vector<std::string> paths;        // absolute; single files
  // The whole local file system: for trusted tools and tests that write fixtures, never
  // for a database that runs a user's SQL. Extensions and configuration stay locked.
  bool unrestricted = false;

  static FileAccess Unrestricted() { return {{}, {}, true}; }
};

// Where the install repositories point: a local path that does not exist.
inline constexpr const char* kNoExtensionRepository = "/nonexistent/derived-installs-no-extensions";

// DuckDB configuration flags of the lock-down, set before the database opens. They win
// over a caller's flags of the same name.
std::map<std::string, std::string> LockdownConfig();

// On the database's first connection, right after it opened: loads the extensions Derived
// uses, sets `globals` (SET GLOBAL) and `session` (this connection's own), restricts file
// access to `files` and locks the configuration. Nothing else may run before it.
Status LockDown(Connection& setup, const FileAccess& files, const std::map<std::string, std::string>& globals,
                const std::map<std::string, std::string>& session);

}  // namespace derived::db
