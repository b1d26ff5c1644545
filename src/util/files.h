// The files Derived reads and the ones it keeps for itself: every read is bounded, and
// every file and folder Derived creates is private to the user running it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/status.h"

namespace derived {

// Reads a whole regular file of at most `max_bytes`. A directory, device or FIFO (never
// opened for reading, so it cannot block), a larger file and an unreadable one are errors
// naming the file as `shown_as` (default: `path`).
Result<std::string> ReadFileLimited(const std::string& path, size_t max_bytes, std::string_view shown_as = {});

// Creates `dir` and any missing parents with mode 0700; folders that exist are left as
// they are. An error names the folder that could not be made.
Status CreatePrivateDirectories(const std::string& dir);

// Replaces `path` with `text`, whole or not at all, as a fresh file of mode 0600 (never
// through a symlink planted at the temporary name).
Status WritePrivateFile(const std::string& path, std::string_view text);

}  // namespace derived
