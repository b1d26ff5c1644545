// The strategy writers: every statement that changes a derived table (append, merge,
// replace by swap-in, views, comments, the out-of-window and NULL-key guards), written in
// the engine's SQL. The builder decides what to write and when; a TableWriter knows how.
//
// A writer belongs to one warehouse session (Warehouse::writer()) and is used from that
// session's thread only. Every method runs inside the caller's transaction and commits
// nothing. The user's query goes into SQL only as a sql::CheckedSelect, through the
// session's QueryEmbedded (sql/embed.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/model.h"
#include "sql/column.h"
#include "sql/embed.h"
#include "time/schedule.h"
#include "util/status.h"

namespace derived {

class Warehouse;

// The table a build writes, as the builder checked it.
struct WriteTarget {
  const TableDef* def = nullptr;
  std::vector<OutputColumn> columns;          // the query's output columns, in order
  std::map<std::string, std::string> casts;   // column -> declared type, canonical spelling
};

// The table itself, or the staging copy a rebuild or a replace fills before swapping it in.
enum class Into { kTable, kStaging };

// Why a write failed, for the builder to explain to the user.
struct WriteError {
  enum class Cause {
    kEngine,           // anything else: the engine's own message
    kQuery,            // a statement holding the user's query failed (bind or run error)
    kRowOutsideWindow, // the append guard refused a row outside the window
    kNullMergeKey,     // the merge guard refused a row with a NULL key
  };
  Cause cause = Cause::kEngine;
  Error error;
  int query_line = 0;  // kQuery: the line of the statement on which the user's query begins

  WriteError() = default;
  WriteError(Error e) : error(std::move(e)) {}  // NOLINT: an engine error, implicitly
  WriteError(Cause c, Error e, int line = 0) : cause(c), error(std::move(e)), query_line(line) {}
};

template <typename T>
using WriteResult = Result<T, WriteError>;
using WriteStatus = WriteResult<std::monostate>;

struct WriteCounts {
  int64_t inserted = 0, updated = 0, deleted = 0;
};

// How many rows the query returned outside a window, and their range (NULL as "NULL").
struct RowsOutside {
  int64_t count = 0;
  std::string min, max;
};

class TableWriter {
 public:
  virtual ~TableWriter() = default;

  // Creates the table (`exists` false) from the query's shape, then deletes the window's
  // old rows when `replace_window` and inserts the query's rows, refusing the whole
  // statement when one lies outside `window` (kRowOutsideWindow).
  virtual WriteResult<WriteCounts> Append(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                          Window window, bool exists, bool replace_window) = 0;
  // Combines the batch's rows per merge key by the merge rules (a NULL key refuses the
  // batch: kNullMergeKey), creates the table (`exists` false) from the combined shape, and
  // upserts: existing keys updated by the rules, new keys inserted.
  virtual WriteResult<WriteCounts> Merge(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                         bool exists) = 0;
  // Drops the staging table left by an earlier attempt, if any.
  virtual Status DropStaging(const TableDef& def) = 0;
  // The staging table made from the query's rows (ordered by cluster_by); returns its rows.
  virtual WriteResult<int64_t> CreateStaging(const sql::CheckedSelect& query, const WriteTarget& t) = 0;
  // Drops the old version (if any) and puts the staging table in its place, with its
  // comments. Returns the old version's row count. `own_views` ("dataset.name") are
  // the project's views that read the table: an engine that binds views to a table
  // (PostgreSQL) makes every reading view again, and may leave one of these to its own
  // updater (which makes it after the swap, in the same run) when its old query no
  // longer fits the new version.
  virtual Result<int64_t> SwapIn(const TableDef& def, const std::set<std::string>& own_views) = 0;
  // Creates the view, or replaces an existing one atomically, with its comments.
  virtual WriteStatus CreateView(const sql::CheckedSelect& query, const WriteTarget& t) = 0;
  // Sets the table's and its columns' comments from the descriptions; with `clear`, an
  // empty description removes an earlier comment.
  virtual Status Comment(const TableDef& def, bool clear) = 0;

  // After a refused write (the caller rolled back): what the guards refused.
  virtual Result<RowsOutside> RowsOutsideWindow(const sql::CheckedSelect& query, const TableDef& def,
                                                Window window) = 0;
  virtual Result<int64_t> RowsWithNullKey(const sql::CheckedSelect& query, const TableDef& def) = 0;

  // The columns of the table or its staging copy, or nullopt when it does not exist.
  virtual Result<std::optional<std::vector<OutputColumn>>> Columns(const TableDef& def, Into into) = 0;
};

}  // namespace derived
