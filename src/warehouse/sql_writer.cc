#include "warehouse/sql_writer.h"

#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "util/strings.h"

namespace derived {
namespace {

// Errors raised inside a statement by its own guards, recognised to say what was wrong.
const char* kOutsideWindow = "derived: row outside the window";
const char* kNullKey = "derived: NULL merge key";
const char* kCombinedTable = "__derived_combined";
const char* kStagingPrefix = "__derived_new_";

// A statement holding the query as the subquery q: `head` + `before` + q + `after`.
sql::Embedding AsQ(std::string before, std::string after, std::string head = "",
                   sql::StatementType type = sql::StatementType::kSelect) {
  return sql::Embedding::Subquery(std::move(before), "q", std::move(after), std::move(head), type);
}

WriteError QueryError(const Error& e, const sql::Embedding& at) {
  return WriteError(WriteError::Cause::kQuery, e, at.QueryLine());
}

bool Raised(const Error& e, const char* guard) { return e.message.find(guard) != std::string::npos; }

std::vector<std::string> QuotedKeys(const SqlDialect& d, const TableDef& def) {
  std::vector<std::string> keys;
  for (const auto& k : def.merge.keys) keys.push_back(d.Ident(k));
  return keys;
}

MergeRule RuleOf(const TableDef& def, const std::string& column) {
  auto it = def.merge.rules.find(column);
  return it == def.merge.rules.end() ? MergeRule::kLatest : it->second;
}

}  // namespace

std::string SqlTableWriter::StagingName(const TableDef& def) { return kStagingPrefix + def.name; }

std::string SqlTableWriter::Name(const TableDef& def, Into into) const {
  return wh_.dialect().Table(def.dataset, into == Into::kStaging ? kStagingPrefix + def.name : def.name);
}

std::string SqlTableWriter::SelectList(const WriteTarget& t) const {
  const SqlDialect& d = wh_.dialect();
  std::vector<std::string> out;
  for (const auto& c : t.columns) {
    auto it = t.casts.find(c.name);
    out.push_back(it == t.casts.end() ? d.Ident(c.name)
                                      : fmt::format("CAST({0} AS {1}) AS {0}", d.Ident(c.name), it->second));
  }
  return Join(out, ", ");
}

std::string SqlTableWriter::ColumnNames(const WriteTarget& t, const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& c : t.columns) out.push_back(prefix + wh_.dialect().Ident(c.name));
  return Join(out, ", ");
}

std::string SqlTableWriter::OrderBy(const TableDef& def) const {
  if (def.cluster_by.empty()) return "";
  std::vector<std::string> cols;
  for (const auto& c : def.cluster_by) cols.push_back(wh_.dialect().Ident(c));
  return " ORDER BY " + Join(cols, ", ");
}

std::string SqlTableWriter::OutsideWindow(const TableDef& def, Window w) const {
  const SqlDialect& d = wh_.dialect();
  std::string tc = d.Ident(def.time_column);
  return fmt::format("{0} IS NULL OR {0} < {1} OR {0} >= {2}", tc, d.TimestampLiteral(w.start),
                     d.TimestampLiteral(w.end));
}

Result<int64_t> SqlTableWriter::CountRows(const std::string& table) {
  auto n = wh_.Query("SELECT count(*) FROM " + table);
  if (!n.ok()) return n.error();
  return static_cast<int64_t>(std::stoll(n->at(0, 0).value_or("0")));
}

Result<std::optional<std::vector<OutputColumn>>> SqlTableWriter::Columns(const TableDef& def, Into into) {
  return wh_.Columns(def.dataset, into == Into::kStaging ? kStagingPrefix + def.name : def.name);
}

WriteStatus SqlTableWriter::CreateTable(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                        bool merge) {
  const SqlDialect& d = wh_.dialect();
  // Explicit DDL, not `CREATE TABLE AS ... LIMIT 0`: DuckDB commits every later append
  // to a table made that way several times slower.
  const sql::Embedding describe = AsQ(fmt::format("DESCRIBE SELECT {} FROM ", SelectList(t)), "");
  auto shape = merge ? wh_.Describe("SELECT * FROM " + d.TempTable(kCombinedTable))
                     : wh_.DescribeQuery(query, describe);
  if (!shape.ok()) return QueryError(shape.error(), describe);
  std::vector<std::string> defs;
  for (const auto& col : *shape) defs.push_back(d.Ident(col.name) + " " + col.type);
  auto st = wh_.Execute(fmt::format("CREATE TABLE {} ({}){}", Name(*t.def, into), Join(defs, ", "), TableClauses(*t.def)));
  if (!st.ok()) return WriteError(WriteError::Cause::kQuery, st.error());
  if (auto s = AddIndexes(*t.def, into); !s.ok()) return WriteError(s.error());
  // A staging table gets its comments when it is swapped in.
  if (into == Into::kTable) {
    if (auto s = Comment(*t.def, /*clear=*/false); !s.ok()) return WriteError(s.error());
  }
  return std::monostate{};
}

WriteResult<WriteCounts> SqlTableWriter::Append(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                                Window window, bool exists, bool replace_window) {
  const SqlDialect& d = wh_.dialect();
  const TableDef& def = *t.def;
  if (!exists) {
    if (auto made = CreateTable(query, t, into, /*merge=*/false); !made.ok()) return made.error();
  }
  if (auto st = PrepareRange(def, into, window.start, window.end); !st.ok()) return WriteError(st.error());
  WriteCounts c;
  std::string target = Name(def, into);
  if (replace_window) {
    std::string tc = d.Ident(def.time_column);
    auto deleted = wh_.ExecuteCount(fmt::format("DELETE FROM {0} WHERE {1} >= {2} AND {1} < {3}", target, tc,
                                                d.TimestampLiteral(window.start), d.TimestampLiteral(window.end)));
    if (!deleted.ok()) return WriteError(deleted.error());
    c.deleted = *deleted;
  }
  // Rows outside the window would survive a re-run of it: the guard refuses them while
  // the rows stream in, with no second pass over the batch.
  const sql::Embedding insert =
      AsQ(fmt::format("SELECT {} FROM ", SelectList(t)),
          fmt::format(" WHERE {}{}", d.RaiseIf(OutsideWindow(def, window), kOutsideWindow), OrderBy(def)),
          fmt::format("INSERT INTO {} ({}) ", target, ColumnNames(t)), sql::StatementType::kInsert);
  auto inserted = wh_.ExecuteEmbeddedCount(query, insert);
  if (!inserted.ok()) {
    if (Raised(inserted.error(), kOutsideWindow)) {
      return WriteError(WriteError::Cause::kRowOutsideWindow, inserted.error());
    }
    return QueryError(inserted.error(), insert);
  }
  c.inserted = *inserted;
  return c;
}

WriteStatus SqlTableWriter::CombineBatch(const sql::CheckedSelect& query, const WriteTarget& t) {
  const SqlDialect& d = wh_.dialect();
  const TableDef& def = *t.def;
  std::vector<std::string> keys = QuotedKeys(d, def), null_conds;
  for (const auto& k : keys) null_conds.push_back(k + " IS NULL");
  std::set<std::string> key_set(def.merge.keys.begin(), def.merge.keys.end());
  std::vector<SqlDialect::BatchColumn> columns;
  for (const auto& col : t.columns) {
    if (!key_set.count(col.name)) columns.push_back({d.Ident(col.name), col.type, RuleOf(def, col.name)});
  }
  const SqlDialect::Combine by_key = d.CombineByKey(keys, columns, d.Ident(def.time_column));
  if (auto st = wh_.Execute("DROP TABLE IF EXISTS " + d.TempTable(kCombinedTable)); !st.ok()) return WriteError(st.error());
  const sql::Embedding combine =
      AsQ(fmt::format("SELECT {} FROM (SELECT {} FROM ", by_key.select, SelectList(t)),
          fmt::format(" WHERE {}) AS src{}", d.RaiseIf(Join(null_conds, " OR "), kNullKey), by_key.after),
          fmt::format("CREATE TEMPORARY TABLE {} AS ", d.Ident(kCombinedTable)), sql::StatementType::kCreate);
  auto made = wh_.QueryEmbedded(query, combine);
  if (made.ok()) return std::monostate{};
  if (Raised(made.error(), kNullKey)) return WriteError(WriteError::Cause::kNullMergeKey, made.error());
  return QueryError(made.error(), combine);
}

WriteResult<WriteCounts> SqlTableWriter::Merge(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                               bool exists) {
  const SqlDialect& d = wh_.dialect();
  const TableDef& def = *t.def;
  if (auto st = CombineBatch(query, t); !st.ok()) return st.error();
  // A merge table has the shape of the combined batch (a `count` column counts).
  if (!exists) {
    if (auto made = CreateTable(query, t, into, /*merge=*/true); !made.ok()) return made.error();
  }
  if (!TableClauses(def).empty()) {
    // The batch's rows go to the partitions of the times they hold.
    auto range = wh_.Query(fmt::format("SELECT {}, {} FROM {}", d.IsoText("min(" + d.Ident(def.time_column) + ")"),
                                       d.IsoText("max(" + d.Ident(def.time_column) + ")"), d.TempTable(kCombinedTable)));
    if (!range.ok()) return WriteError(range.error());
    if (range->size() == 1 && range->at(0, 0) && range->at(0, 1)) {
      auto from = ParseTimestamp(*range->at(0, 0));
      auto to = ParseTimestamp(*range->at(0, 1));
      if (from.ok() && to.ok()) {
        if (auto st = PrepareRange(def, into, *from, Timestamp{to->seconds + 1}); !st.ok()) return WriteError(st.error());
      }
    }
  }
  std::set<std::string> key_set(def.merge.keys.begin(), def.merge.keys.end());
  std::vector<std::string> key_conds, sets;
  for (const auto& k : QuotedKeys(d, def)) key_conds.push_back(fmt::format("t.{0} = b.{0}", k));
  std::string tc = d.Ident(def.time_column);
  for (const auto& col : t.columns) {
    if (key_set.count(col.name)) continue;
    std::string q = d.Ident(col.name);
    sets.push_back(q + " = " + d.MergeExpression(RuleOf(def, col.name), q, tc));
  }
  std::string target = Name(def, into), combined = d.TempTable(kCombinedTable), match = Join(key_conds, " AND ");
  WriteCounts c;
  if (!sets.empty()) {
    auto updated = wh_.ExecuteCount(
        fmt::format("UPDATE {} AS t SET {} FROM {} AS b WHERE {}", target, Join(sets, ", "), combined, match));
    if (!updated.ok()) return WriteError(updated.error());
    c.updated = *updated;
  }
  auto inserted = wh_.ExecuteCount(
      fmt::format("INSERT INTO {0} ({1}) SELECT {2} FROM {3} AS b WHERE NOT EXISTS (SELECT 1 FROM {0} AS t WHERE "
                  "{4}){5}",
                  target, ColumnNames(t), ColumnNames(t, "b."), combined, match, OrderBy(def)));
  if (!inserted.ok()) return WriteError(inserted.error());
  c.inserted = *inserted;
  return c;
}

Status SqlTableWriter::DropStaging(const TableDef& def) {
  return wh_.Execute("DROP TABLE IF EXISTS " + Name(def, Into::kStaging));
}

WriteResult<int64_t> SqlTableWriter::CreateStaging(const sql::CheckedSelect& query, const WriteTarget& t) {
  std::string staging = Name(*t.def, Into::kStaging);
  const sql::Embedding create = AsQ(fmt::format("SELECT {} FROM ", SelectList(t)), OrderBy(*t.def),
                                    fmt::format("CREATE TABLE {} AS ", staging), sql::StatementType::kCreate);
  auto created = wh_.QueryEmbedded(query, create);
  if (!created.ok()) return QueryError(created.error(), create);
  if (auto s = AddIndexes(*t.def, Into::kStaging); !s.ok()) return WriteError(s.error());
  auto rows = CountRows(staging);
  if (!rows.ok()) return WriteError(rows.error());
  return *rows;
}

Result<int64_t> SqlTableWriter::SwapIn(const TableDef& def, const std::set<std::string>& /*own_views*/) {
  crash::Scope scope("swap");
  auto exists = Columns(def, Into::kTable);
  if (!exists.ok()) return exists.error();
  int64_t old_rows = 0;
  std::string target = Name(def, Into::kTable);
  if (exists->has_value()) {
    auto n = CountRows(target);
    if (!n.ok()) return n.error();
    old_rows = *n;
    if (auto s = wh_.Execute("DROP TABLE " + target); !s.ok()) return s.error();
  }
  std::string rename =
      fmt::format("ALTER TABLE {} RENAME TO {}", Name(def, Into::kStaging), wh_.dialect().Ident(def.name));
  if (auto s = wh_.Execute(rename); !s.ok()) return s.error();
  if (auto s = Comment(def, /*clear=*/false); !s.ok()) return s.error();
  return old_rows;
}

WriteStatus SqlTableWriter::CreateView(const sql::CheckedSelect& query, const WriteTarget& t) {
  const sql::Embedding create =
      AsQ(fmt::format("SELECT {} FROM ", SelectList(t)), "",
          fmt::format("CREATE OR REPLACE VIEW {} AS ", Name(*t.def, Into::kTable)), sql::StatementType::kCreate);
  auto created = wh_.QueryEmbedded(query, create);
  if (!created.ok()) return QueryError(created.error(), create);
  if (auto s = Comment(*t.def, /*clear=*/false); !s.ok()) return WriteError(s.error());
  return std::monostate{};
}

Status SqlTableWriter::Comment(const TableDef& def, bool clear) {
  const SqlDialect& d = wh_.dialect();
  std::string table = Name(def, Into::kTable);
  auto text = [&](const std::string& s) { return s.empty() ? std::string("NULL") : d.Literal(s); };
  std::string sql;
  const char* kind = def.strategy == Strategy::kView ? "VIEW" : "TABLE";
  if (clear || !def.description.empty()) {
    sql += fmt::format("COMMENT ON {} {} IS {};", kind, table, text(def.description));
  }
  for (const auto& c : def.columns) {
    if (!clear && c.description.empty()) continue;
    sql += fmt::format("COMMENT ON COLUMN {}.{} IS {};", table, d.Ident(c.name), text(c.description));
  }
  return sql.empty() ? Status::Ok() : wh_.Execute(sql);
}

Result<RowsOutside> SqlTableWriter::RowsOutsideWindow(const sql::CheckedSelect& query, const TableDef& def,
                                                      Window window) {
  std::string tc = wh_.dialect().Ident(def.time_column);
  auto rows = wh_.QueryEmbedded(
      query, AsQ(fmt::format("SELECT count(*), min({0}), max({0}) FROM ", tc), " WHERE " + OutsideWindow(def, window)));
  if (!rows.ok()) return rows.error();
  return RowsOutside{std::stoll(rows->at(0, 0).value_or("0")), rows->at(0, 1).value_or("NULL"),
                     rows->at(0, 2).value_or("NULL")};
}

Result<int64_t> SqlTableWriter::RowsWithNullKey(const sql::CheckedSelect& query, const TableDef& def) {
  std::vector<std::string> conds;
  for (const auto& k : QuotedKeys(wh_.dialect(), def)) conds.push_back(k + " IS NULL");
  auto n = wh_.QueryEmbedded(query, AsQ("SELECT count(*) FROM ", " WHERE " + Join(conds, " OR ")));
  if (!n.ok()) return n.error();
  return static_cast<int64_t>(std::stoll(n->at(0, 0).value_or("0")));
}

}  // namespace derived
