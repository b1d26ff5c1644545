// A TableWriter in SQL common to the engines, through a session's Warehouse interface;
// what differs between engines comes from the session's SqlDialect. An engine whose SQL
// for a strategy differs more overrides that method.
#pragma once

#include "warehouse/warehouse.h"
#include "warehouse/writer.h"

namespace derived {

class SqlTableWriter : public TableWriter {
 public:
  // `wh` is the session this writer belongs to and outlives it.
  explicit SqlTableWriter(Warehouse& wh) : wh_(wh) {}

  WriteResult<WriteCounts> Append(const sql::CheckedSelect& query, const WriteTarget& t, Into into, Window window,
                                  bool exists, bool replace_window) override;
  WriteResult<WriteCounts> Merge(const sql::CheckedSelect& query, const WriteTarget& t, Into into,
                                 bool exists) override;
  Status DropStaging(const TableDef& def) override;
  WriteResult<int64_t> CreateStaging(const sql::CheckedSelect& query, const WriteTarget& t) override;
  Result<int64_t> SwapIn(const TableDef& def, const std::set<std::string>& own_views) override;
  WriteStatus CreateView(const sql::CheckedSelect& query, const WriteTarget& t) override;
  Status Comment(const TableDef& def, bool clear) override;
  Result<RowsOutside> RowsOutsideWindow(const sql::CheckedSelect& query, const TableDef& def, Window window) override;
  Result<int64_t> RowsWithNullKey(const sql::CheckedSelect& query, const TableDef& def) override;
  Result<std::optional<std::vector<OutputColumn>>> Columns(const TableDef& def, Into into) override;

 protected:
  // The quoted, qualified name of the table or its staging copy.
  std::string Name(const TableDef& def, Into into) const;
  // The query's columns cast to their declared types: "a, CAST(b AS BIGINT) AS b".
  std::string SelectList(const WriteTarget& t) const;
  std::string ColumnNames(const WriteTarget& t, const std::string& prefix = "") const;
  // " ORDER BY c1, c2" for cluster_by (so zone maps or indexes see ordered rows), or "".
  std::string OrderBy(const TableDef& def) const;
  std::string OutsideWindow(const TableDef& def, Window w) const;
  // CREATE TABLE with explicit columns of the query's shape (or, for a merge, of the
  // combined batch).
  WriteStatus CreateTable(const sql::CheckedSelect& query, const WriteTarget& t, Into into, bool merge);
  WriteStatus CombineBatch(const sql::CheckedSelect& query, const WriteTarget& t);
  Result<int64_t> CountRows(const std::string& table);
  // Called once a table or staging copy is made (a staging copy holds its rows by then):
  // the indexes an engine keeps on it. None by default.
  virtual Status AddIndexes(const TableDef& /*def*/, Into /*into*/) { return Status::Ok(); }
  // What follows the column list of CREATE TABLE (a partitioning clause), or "".
  virtual std::string TableClauses(const TableDef& /*def*/) const { return ""; }
  // Called before rows whose time column lies in [from, to) are written: makes the
  // storage they go to (partitions). Nothing by default.
  virtual Status PrepareRange(const TableDef& /*def*/, Into /*into*/, Timestamp /*from*/, Timestamp /*to*/) {
    return Status::Ok();
  }
  // The staging copy's name, unquoted ("__derived_new_<table>").
  static std::string StagingName(const TableDef& def);

  Warehouse& wh_;
};

}  // namespace derived
