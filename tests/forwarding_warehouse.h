// A warehouse that passes every call to a real session: the base of the test doubles
// for the engine's own layers (faulty_warehouse.h, fake_writer.h), which override only
// what they change.
#pragma once

#include <memory>
#include <string>

#include "warehouse/warehouse.h"

namespace derived::testing {

class ForwardingWarehouse : public Warehouse {
 public:
  explicit ForwardingWarehouse(std::unique_ptr<Warehouse> inner) : inner_(std::move(inner)) {}

  Warehouse& inner() { return *inner_; }

  std::string_view engine() const override { return inner_->engine(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  const SqlDialect& dialect() const override { return inner_->dialect(); }
  Result<std::unique_ptr<Warehouse>> Connect() override { return inner_->Connect(); }
  void Interrupt() override { inner_->Interrupt(); }
  void InterruptAll() override { inner_->InterruptAll(); }
  std::optional<std::string> Failure() const override { return inner_->Failure(); }
  Status Execute(std::string_view sql) override { return inner_->Execute(sql); }
  Result<Rows> Query(std::string_view sql) override { return inner_->Query(sql); }
  Result<int64_t> ExecuteCount(std::string_view sql) override { return inner_->ExecuteCount(sql); }
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override { return inner_->Prepare(sql); }
  Status LockTable(const std::string& table, LockMode mode) override { return inner_->LockTable(table, mode); }
  Status Begin() override { return inner_->Begin(); }
  Status Commit() override { return inner_->Commit(); }
  Status Rollback() override { return inner_->Rollback(); }
  Status UseDataset(const std::string& dataset) override { return inner_->UseDataset(dataset); }
  Status EnsureDataset(const std::string& dataset) override { return inner_->EnsureDataset(dataset); }
  Status CreateMetadataSchema() override { return inner_->CreateMetadataSchema(); }
  Status CreateMetadataTables(const std::string& schema) override { return inner_->CreateMetadataTables(schema); }
  Result<std::vector<std::string>> Schemas(std::string_view prefix) override { return inner_->Schemas(prefix); }
  Status DropSchema(const std::string& schema) override { return inner_->DropSchema(schema); }
  Result<sql::CheckedSelect> CheckQuery(std::string_view sql) override { return inner_->CheckQuery(sql); }
  Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    return inner_->QueryEmbedded(query, embedding);
  }
  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
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
  Result<std::vector<std::string>> DescribeStorage(const std::string& dataset, const std::string& table) override {
    return inner_->DescribeStorage(dataset, table);
  }
  Result<OpenedScript> OpenScript(std::string_view sql, ScriptAccess access, TimeStyle style) override {
    return inner_->OpenScript(sql, access, style);
  }
  TableWriter& writer() override { return inner_->writer(); }
  FileSources* file_sources() override { return inner_->file_sources(); }

 private:
  std::unique_ptr<Warehouse> inner_;
};

}  // namespace derived::testing
