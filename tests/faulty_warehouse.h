// A fault-injecting warehouse for tests of the engine's own layers (the builder, the
// metadata store): every call is passed to a real session, except that statement number
// `fail_at` (counting every statement, transaction control included) fails without
// running, as a full disk, a lost connection or a killed statement would. Its strategy
// writers speak through it, so their statements count too.
#pragma once

#include <memory>
#include <string>

#include "forwarding_warehouse.h"
#include "warehouse/sql_writer.h"

namespace derived::testing {

class FaultyWarehouse final : public ForwardingWarehouse {
 public:
  // `fail_at` 0: never fails (it only counts).
  FaultyWarehouse(std::unique_ptr<Warehouse> inner, int fail_at) : ForwardingWarehouse(std::move(inner)), fail_at_(fail_at) {}

  int statements() const { return count_; }  // so far
  bool failed() const { return failed_; }    // the fault was injected

  Status Execute(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner().Execute(sql);
  }
  Result<Rows> Query(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner().Query(sql);
  }
  Result<int64_t> ExecuteCount(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner().ExecuteCount(sql);
  }
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override {
    auto stmt = inner().Prepare(sql);
    if (!stmt.ok()) return stmt.error();
    return std::unique_ptr<Statement>(new Counted(this, std::move(*stmt)));
  }
  Status LockTable(const std::string& table, LockMode mode) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner().LockTable(table, mode);
  }
  Status Begin() override {
    if (auto st = Count(); !st.ok()) return st;
    return inner().Begin();
  }
  Status Commit() override {
    if (auto st = Count(); !st.ok()) return st;
    return inner().Commit();
  }
  // Rollback never fails: it is the way out.
  Status EnsureDataset(const std::string& dataset) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner().EnsureDataset(dataset);
  }
  Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner().QueryEmbedded(query, embedding);
  }
  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner().ExecuteEmbeddedCount(query, embedding);
  }
  TableWriter& writer() override { return writer_; }

 private:
  class Counted final : public Statement {
   public:
    Counted(FaultyWarehouse* wh, std::unique_ptr<Statement> inner) : wh_(wh), inner_(std::move(inner)) {}
    Result<int64_t> Run(const std::vector<Value>& params) override {
      if (auto st = wh_->Count(); !st.ok()) return st.error();
      return inner_->Run(params);
    }

   private:
    FaultyWarehouse* wh_;
    std::unique_ptr<Statement> inner_;
  };

  Status Count() {
    if (++count_ != fail_at_) return Status::Ok();
    failed_ = true;
    return Error("injected fault at statement " + std::to_string(count_));
  }

  int fail_at_;
  int count_ = 0;
  bool failed_ = false;
  SqlTableWriter writer_{*this};  // the DuckDB writer's SQL, spoken through this session
};

}  // namespace derived::testing
