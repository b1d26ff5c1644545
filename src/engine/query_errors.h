// What the builder tells a user whose query went wrong for one batch: pointed at the
// template line that wrote the failing part where the error says where, and counting
// what a strategy's guard refused.
#pragma once

#include "compile/rendered_sql.h"
#include "config/model.h"
#include "time/schedule.h"
#include "util/status.h"
#include "warehouse/writer.h"

namespace derived {

// The batch's rendering is not one SELECT (a template that writes another statement for
// some windows only): `e` is the parser's refusal. `rendered` may be null.
Error QueryRefused(const TableDef& def, const RenderedSql* rendered, const Error& e);

// The engine failed a statement embedding the query, which begins on the statement's
// line `query_line` (sql::Embedding::QueryLine).
Error QueryFailed(const TableDef& def, const RenderedSql* rendered, const Error& e, int query_line);

// The append guard refused rows outside `window`; `outside` is what they were, read
// after the rollback (or why that could not be read).
Error RowsOutsideWindow(const TableDef& def, Window window, const Result<RowsOutside>& outside);

// The merge guard refused rows with a NULL key; `count` as read after the rollback.
Error RowsWithNullKey(const TableDef& def, const Result<int64_t>& count);

}  // namespace derived
