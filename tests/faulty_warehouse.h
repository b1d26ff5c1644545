// A fault-injecting warehouse for tests of the engine's own layers (the builder, the
// metadata store): every call is passed to a real session, except that statement number
// `fail_at` (counting every statement, transaction control included) fails without
// running, as a full disk, a lost connection or a killed statement would. Its strategy
// writers speak through it, so their statements count too.
#pragma once

#include <memory>
#include <string>

#include "warehouse/sql_writer.h"
#include "warehouse/warehouse.h"

namespace derived::testing {

class FaultyWarehouse final : public Warehouse {
 public:
  // `fail_at` 0: never fails (it only counts).
  FaultyWarehouse(std::unique_ptr<Warehouse> inner, int fail_at) : inner_(std::move(inner)), fail_at_(fail_at) {}

  int statements() const { return count_; }  // so far
  bool failed() const { return failed_; }    // the fault was injected

  std::string_view engine() const override { return inner_->engine(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  const SqlDialect& dialect() const override { return inner_->dialect(); }
  Result<std::unique_ptr<Warehouse>> Connect() override { return inner_->Connect(); }
  void Interrupt() override { inner_->Interrupt(); }
  void InterruptAll() override { inner_->InterruptAll(); }
  std::optional<std::string> Failure() const override { return inner_->Failure(); }

  Status Execute(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner_->Execute(sql);
  }
  Result<Rows> Query(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner_->Query(sql);
  }
  Result<int64_t> ExecuteCount(std::string_view sql) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner_->ExecuteCount(sql);
  }
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override {
    auto stmt = inner_->Prepare(sql);
    if (!stmt.ok()) return stmt.error();
    return std::unique_ptr<Statement>(new Counted(this, std::move(*stmt)));
  }
  Status LockTable(const std::string& table) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner_->LockTable(table);
  }
  Status Begin() override {
    if (auto st = Count(); !st.ok()) return st;
    return inner_->Begin();
  }
  Status Commit() override {
    if (auto st = Count(); !st.ok()) return st;
    return inner_->Commit();
  }
  Status Rollback() override { return inner_->Rollback(); }  // never fails: it is the way out
  Status UseDataset(const std::string& dataset) override { return inner_->UseDataset(dataset); }
  Status EnsureDataset(const std::string& dataset) override {
    if (auto st = Count(); !st.ok()) return st;
    return inner_->EnsureDataset(dataset);
  }
  Status CreateMetadataSchema() override { return inner_->CreateMetadataSchema(); }
  Result<sql::CheckedSelect> CheckQuery(std::string_view sql) override { return inner_->CheckQuery(sql); }
  Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner_->QueryEmbedded(query, embedding);
  }
  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    if (auto st = Count(); !st.ok()) return st.error();
    return inner_->ExecuteEmbeddedCount(query, embedding);
  }
  Result<std::vector<OutputColumn>> DescribeQuery(const sql::CheckedSelect& query,
                                                  const sql::Embedding& embedding) override {
    return inner_->DescribeQuery(query, embedding);
  }
  Result<std::vector<OutputColumn>> Describe(std::string_view select) override { return inner_->Describe(select); }
  Result<std::string> CanonicalType(const std::string& type) override { return inner_->CanonicalType(type); }
  Result<std::optional<std::vector<OutputColumn>>> Columns(const std::string& dataset,
                                                           const std::string& table) override {
    return inner_->Columns(dataset, table);
  }
  Result<OpenedScript> OpenScript(std::string_view sql, ScriptAccess access, TimeStyle style) override {
    return inner_->OpenScript(sql, access, style);
  }
  TableWriter& writer() override { return writer_; }
  FileSources* file_sources() override { return inner_->file_sources(); }

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

  std::unique_ptr<Warehouse> inner_;
  int fail_at_;
  int count_ = 0;
  bool failed_ = false;
  SqlTableWriter writer_{*this};  // the DuckDB writer's SQL, spoken through this session
};

}  // namespace derived::testing
