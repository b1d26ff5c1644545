// The metadata tables in `_derived` (log, state, source marks, seen files), as CREATE ...
// IF NOT EXISTS statements every engine runs as they are: the one definition of their
// columns, which the metadata store (metadata/store.h) reads and writes by position.
// Each engine adds what it needs around them (Warehouse::CreateMetadataSchema).
#pragma once

#include <string_view>

namespace derived {

std::string_view MetadataTablesSql();

}  // namespace derived
