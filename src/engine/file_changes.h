// Files of a file source change under Derived's feet: one is replaced, one lands late
// with old data, one is deleted. Derived keeps a fingerprint of every file it has read
// (in `_derived.files`) and turns each difference into a restatement of the time range the
// file covers, repaired downstream like `derived source restate`. Pure functions here;
// the engine lists, reads and records. StatFile is the one that touches the disk.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <string_view>

#include "time/schedule.h"
#include "util/status.h"

namespace derived {

// Files up to this size are also hashed, so a file rewritten with the same content (a
// new mtime, say) is no change; a larger file is judged by its size and mtime alone.
inline constexpr int64_t kFileHashLimit = 8 << 20;
// A file modified this soon before it was looked at may change again within the same
// mtime tick (the file system's clock is coarse), so its mtime proves nothing: such a
// "racy" file is always hashed, and compared by content next time (as git does).
inline constexpr int64_t kRacyNs = 2'000'000'000;

// Rows without a time in their time column, in FileFingerprint::days.
inline constexpr int64_t kNoDay = INT64_MIN;

struct FileFingerprint {
  std::string path;  // absolute, as the source's glob lists it
  int64_t size = 0;
  int64_t mtime_ns = 0;  // the file system's clock
  int64_t seen_ns = 0;   // the same clock, when it was looked at
  std::string hash;      // content hash (small or racy files); empty otherwise
  // Per UTC day of its time column (seconds of the day's start, or kNoDay), a digest of
  // the file's rows that day: what tells which days a rewritten file changed. Empty for
  // a source without a time column.
  std::map<int64_t, std::string> days;

  bool racy() const { return mtime_ns + kRacyNs > seen_ns; }
};

enum class FileChange { kAdded, kChanged, kRemoved };
std::string_view FileChangeName(FileChange c);  // added, changed, removed

struct FileDiff {
  std::string path;
  FileChange change = FileChange::kAdded;
  std::optional<Window> range;  // the days whose rows it adds, changes or removes
  bool untimed = false;         // and rows without a time changed too
};

// Size and mtime of the file at `path`, and its content hash when it is small, racy, or
// `hash` is asked for (to compare with a racy fingerprint). `days` is left for the caller.
Result<FileFingerprint> StatFile(const std::string& path, bool hash = false);

// True when `now` is the same file as `before`: the same content when both were hashed
// (REQUIRES: `now` hashed when `before` is racy), else the same size and mtime.
bool SameFile(const FileFingerprint& before, const FileFingerprint& now);

// What changed between the files recorded and those there now, by path: for a changed
// file, only the days whose rows differ.
std::vector<FileDiff> DiffFiles(const std::vector<FileFingerprint>& recorded,
                                const std::vector<FileFingerprint>& current);

// The range these differences restate for a source that readers took as complete
// through `complete`: the union of the days they touch before it, or all time for a
// source without a time column (or a change to rows without a time). nullopt when no
// difference reaches data a reader took as final: a new file of data after `complete` is
// new data, not a restatement, and nothing is restated before any reader took any of it.
std::optional<Window> RestatedRange(const std::vector<FileDiff>& diffs, bool has_time_column,
                                    std::optional<Timestamp> complete);

}  // namespace derived
