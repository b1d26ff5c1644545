// Listing the files under a folder without ever throwing: a symlink loop, a dangling
// link or an unreadable folder is reported with its path and the walk goes on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace derived {

struct WalkOptions {
  // Descend into symlinked folders (never into one that leads back to a folder the walk
  // is already inside: that is reported as a loop).
  bool follow_directory_symlinks = false;
  // Skip folders whose name starts with '.' (.git, .derived).
  bool skip_hidden_directories = false;
  // Which files to list; a problem with an entry that is not a folder is reported only
  // when it passes. Null: every file.
  std::function<bool(const std::filesystem::path&)> wanted;
  // Paths inside problem messages are shown relative to this folder (default: root).
  std::filesystem::path shown_relative_to;
};

struct WalkedFile {
  std::filesystem::path path;  // root / ... as found
  uintmax_t size = 0;
  int64_t mtime_ns = 0;  // last modification, in the file clock's nanoseconds
};

struct WalkProblem {
  std::filesystem::path path;
  std::string message;  // e.g. "symlink loop: it leads back to tables/core, a folder that holds it"
};

struct WalkResult {
  std::vector<WalkedFile> files;  // sorted by path
  std::vector<WalkProblem> problems;
};

// Every regular file (or symlink to one) under `root` that `options.wanted` accepts. A
// `root` that is missing or not a folder yields nothing and no problem.
WalkResult WalkFiles(const std::filesystem::path& root, const WalkOptions& options = {});

}  // namespace derived
