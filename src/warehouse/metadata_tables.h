// The metadata tables in `_derived` (log, state, source marks, seen files), as CREATE ...
// IF NOT EXISTS statements every engine runs as they are: the one definition of their
// columns, which the metadata store (metadata/store.h) reads and writes by position.
// Each engine adds what it needs around them (Warehouse::CreateMetadataSchema).
#pragma once

#include <string>
#include <string_view>

namespace derived {

// In `schema`: `_derived`, or a shadow environment's own (shadow/environment.h), which
// must be a plain lowercase identifier.
std::string MetadataTablesSql(std::string_view schema = "_derived");

}  // namespace derived
