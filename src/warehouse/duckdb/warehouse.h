// The DuckDB warehouse (warehouse/warehouse.h): one embedded database file, written by
// one process.
#pragma once

#include <memory>
#include <string>

#include "db/lockdown.h"
#include "warehouse/warehouse.h"

namespace derived {

// Opens (creating when missing) the database at `path`, locked down (db/lockdown.h) to
// its own files and those of `files`.
Result<std::unique_ptr<Warehouse>> OpenDuckDbWarehouse(const std::string& path, const db::FileAccess& files);

}  // namespace derived
