// Sources that are files outside the warehouse (`location: landing/events/*.parquet`):
// DuckDB reads them in place through a view named like the source, so files an
// ingestion pipeline lands while the service runs are visible to the next query.
#pragma once

#include <map>
#include <string>

#include "config/model.h"
#include "util/status.h"
#include "warehouse/warehouse.h"

namespace derived {

// Creates or replaces the view of every file source. Returns, per source that could not
// be attached (no file matches its pattern yet, unreadable files), why not; those
// sources count as not existing until their files appear.
Result<std::map<std::string, std::string>> AttachFileSources(Warehouse& wh, const Project& project);

}  // namespace derived
