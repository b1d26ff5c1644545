// A temporary project with a DuckDB warehouse (or a PostgreSQL database of its own),
// driven through the real `derived` binary.
// Expected table contents are computed by plain SQL over the raw data, never by Derived.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "postgres_testing.h"
#include "testing.h"
#include "warehouse/warehouse.h"

namespace derived::testing {

// One number: how many rows one query's result has that the other's lacks (as multisets,
// the larger of the two directions). 0 when the results are equal.
std::string DifferenceSql(const std::string& actual, const std::string& expected);

// raw.events as tests of the service use it: a row every 20 minutes from 2024-01-01 for 30
// days (ts, amount), declared as a marker source with its time column. SQL and types both
// engines spell alike.
inline constexpr const char* kEventsSource =
    "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n  - {name: amount, type: "
    "FLOAT8}\n";
inline constexpr const char* kEventsData =
    "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '20 minutes' "
    "AS ts, CAST((i % 13) * 1.5 AS FLOAT8) AS amount FROM generate_series(0, 30 * 24 * 3 - 1) t(i)";

class WarehouseProject {
 public:
  explicit WarehouseProject(WarehouseEngine engine = WarehouseEngine::kDuckDb);

  WarehouseEngine engine() const { return engine_; }
  bool postgres() const { return engine_ == WarehouseEngine::kPostgres; }

  const TempDir& dir() const { return dir_; }
  // Writes derived.yaml: its warehouse, then `rest` ("defaults: {...}\n", say).
  void Configure(const std::string& rest) const;
  void Write(const std::string& rel, const std::string& text) const { dir_.Write(rel, text); }

  // Runs `derived <args> --project DIR [--now NOW]`.
  CommandResult Derived(std::vector<std::string> args, const std::string& now = "") const;
  // A session of its warehouse opened directly (OpenTestWarehouse), never through a service.
  Result<std::unique_ptr<Warehouse>> Open() const;
  // Runs SQL against the warehouse; fails the test when it fails.
  void Sql(const std::string& sql) const;
  // The first column of the first row, as text ("NULL" for NULL).
  std::string Scalar(const std::string& sql) const;
  int64_t Count(const std::string& sql) const { return std::stoll(Scalar(sql)); }
  // Rows in one query's result but not the other's (as multisets), both ways.
  int64_t Difference(const std::string& actual, const std::string& expected) const;

 private:
  WarehouseEngine engine_;
  std::unique_ptr<PostgresDatabase> pg_;  // the warehouse, on PostgreSQL
  TempDir dir_;
};

// A warehouse session opened directly, as a test's own SQL needs it (never checked or
// logged by Derived): the PostgreSQL database `postgres_dsn`, or else the DuckDB file at
// `duckdb_path` with no file lock-down.
Result<std::unique_ptr<Warehouse>> OpenTestWarehouse(const std::string& duckdb_path, const std::string& postgres_dsn);

// For suites parameterized over the engines: "duckdb" / "postgres" in the test's name.
std::string EngineName(const ::testing::TestParamInfo<WarehouseEngine>& info);
inline const auto kBothEngines = ::testing::Values(WarehouseEngine::kDuckDb, WarehouseEngine::kPostgres);

}  // namespace derived::testing
