// `derived query` on DuckDB (Warehouse::OpenScript): the script as DuckDB's own parser
// splits it and its binder types it; what may run without --write is decided by
// warehouse/duckdb/read_only.h.
#pragma once

#include <string_view>

#include "db/duckdb.h"
#include "warehouse/warehouse.h"

namespace derived {

// REQUIRES: `conn` outlives the script, and runs nothing else while it lives.
Result<OpenedScript> OpenDuckDbScript(db::Connection& conn, std::string_view sql, ScriptAccess access,
                                      TimeStyle style);

}  // namespace derived
