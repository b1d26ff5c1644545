// A fake of the strategy writers (warehouse/writer.h) for unit tests of the builder:
// it writes nothing, records each call as one readable line, returns counts the test
// sets, and fails the next call whose line begins with a prefix the test names. It sits
// on a real session (FakeWriterWarehouse), so the user's query is still parsed and
// described by the engine, and the metadata store's log and state are real rows.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "forwarding_warehouse.h"
#include "warehouse/writer.h"

namespace derived::testing {

class FakeWriter final : public TableWriter {
 public:
  std::vector<std::string> calls;  // e.g. "append table [2024-01-01, 2024-01-02) new"
  WriteCounts counts{10, 0, 0};    // what each Append and Merge reports
  int64_t staging_rows = 7;        // CreateStaging
  int64_t old_rows = 5;            // SwapIn
  RowsOutside outside{3, "2023-12-31 00:00:00", "2024-02-01 00:00:00"};
  int64_t null_keys = 2;

  // The next call whose line begins with `prefix` fails with `error`.
  void FailNext(std::string prefix, WriteError error) { fail_ = {{std::move(prefix), std::move(error)}}; }
  // The table as it exists before the build, with these columns.
  void Exists(std::vector<OutputColumn> columns) { tables_[Into::kTable] = std::move(columns); }

  WriteResult<WriteCounts> Append(const sql::CheckedSelect&, const WriteTarget& t, Into into, Window w, bool exists,
                                  bool replace_window) override {
    std::string line = fmt::format("append {} [{}, {}){}{}", Name(into), Day(w.start), Day(w.end),
                                   exists ? "" : " new", replace_window ? " replacing" : "");
    if (auto e = Called(line)) return *e;
    tables_[into] = t.columns;
    return counts;
  }
  WriteResult<WriteCounts> Merge(const sql::CheckedSelect&, const WriteTarget& t, Into into, bool exists) override {
    if (auto e = Called(fmt::format("merge {}{}", Name(into), exists ? "" : " new"))) return *e;
    tables_[into] = t.columns;
    return counts;
  }
  Status DropStaging(const TableDef&) override {
    if (auto e = Called("drop staging")) return e->error;
    tables_.erase(Into::kStaging);
    return Status::Ok();
  }
  WriteResult<int64_t> CreateStaging(const sql::CheckedSelect&, const WriteTarget& t) override {
    if (auto e = Called("create staging")) return *e;
    tables_[Into::kStaging] = t.columns;
    return staging_rows;
  }
  Result<int64_t> SwapIn(const TableDef&, const std::set<std::string>& own_views) override {
    std::string views;
    for (const auto& v : own_views) views += " " + v;
    if (auto e = Called("swap in" + views)) return e->error;
    tables_[Into::kTable] = tables_[Into::kStaging];
    tables_.erase(Into::kStaging);
    return old_rows;
  }
  WriteStatus CreateView(const sql::CheckedSelect&, const WriteTarget& t) override {
    if (auto e = Called("create view")) return *e;
    tables_[Into::kTable] = t.columns;
    return std::monostate{};
  }
  Status Comment(const TableDef&, bool clear) override {
    if (auto e = Called(clear ? "comment clearing" : "comment")) return e->error;
    return Status::Ok();
  }
  Result<RowsOutside> RowsOutsideWindow(const sql::CheckedSelect&, const TableDef&, Window w) override {
    calls.push_back(fmt::format("rows outside [{}, {})", Day(w.start), Day(w.end)));
    return outside;
  }
  Result<int64_t> RowsWithNullKey(const sql::CheckedSelect&, const TableDef&) override {
    calls.push_back("rows with null key");
    return null_keys;
  }
  Result<std::optional<std::vector<OutputColumn>>> Columns(const TableDef&, Into into) override {
    auto it = tables_.find(into);
    if (it == tables_.end()) return std::optional<std::vector<OutputColumn>>{};
    return std::optional<std::vector<OutputColumn>>{it->second};
  }

 private:
  static const char* Name(Into into) { return into == Into::kTable ? "table" : "staging"; }
  static std::string Day(Timestamp t) { return FormatIso(t).substr(0, 10); }

  std::optional<WriteError> Called(const std::string& line) {
    calls.push_back(line);
    if (!fail_ || line.rfind(fail_->first, 0) != 0) return std::nullopt;
    WriteError e = std::move(fail_->second);
    fail_.reset();
    return e;
  }

  std::map<Into, std::vector<OutputColumn>> tables_;
  std::optional<std::pair<std::string, WriteError>> fail_;
};

// A real session whose strategy writers are a FakeWriter.
class FakeWriterWarehouse final : public ForwardingWarehouse {
 public:
  using ForwardingWarehouse::ForwardingWarehouse;
  FakeWriter& fake() { return writer_; }
  TableWriter& writer() override { return writer_; }

 private:
  FakeWriter writer_;
};

}  // namespace derived::testing
