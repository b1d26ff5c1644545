// Sources that are files outside the warehouse (`location: landing/events/*.parquet`):
// DuckDB reads them in place through a view named like the source, so files an
// ingestion pipeline lands while the service runs are visible to the next query.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "util/status.h"
#include "warehouse/warehouse.h"

namespace derived {

// Creates or replaces the view of every file source. Returns, per source that could not
// be attached (no file matches its pattern yet, unreadable files), why not; those
// sources count as not existing until their files appear.
Result<std::map<std::string, std::string>> AttachFileSources(Warehouse& wh, const Project& project);

// The files `s`'s glob matches now (absolute paths, sorted), as its view reads them.
Result<std::vector<std::string>> ListFiles(Warehouse& wh, const std::string& root, const SourceDef& s);

// For each of `paths` (files of `s`), per UTC day of its time column (the day's start in
// seconds; INT64_MIN for rows without a time), a digest of the rows: their count and an
// order-independent checksum. One scan; a file without rows is missing from the result.
// REQUIRES: s.time_column is set.
using DayDigests = std::map<int64_t, std::string>;
Result<std::map<std::string, DayDigests>> FileDayDigests(Warehouse& wh, const SourceDef& s,
                                                         const std::vector<std::string>& paths);

}  // namespace derived
