#include "engine_testing.h"

#include <filesystem>

#include "service/control.h"
#include "warehouse/duckdb/warehouse.h"
#include "warehouse/postgres/warehouse.h"

namespace derived::testing {

WarehouseProject::WarehouseProject(WarehouseEngine engine) : engine_(engine) {
  if (postgres()) pg_ = std::make_unique<PostgresDatabase>();
  Configure("");
}

void WarehouseProject::Configure(const std::string& rest) const {
  dir_.Write("derived.yaml", "name: test\nwarehouse: " +
                                 (pg_ ? "{engine: postgres, dsn: \"" + pg_->dsn() + "\"}"
                                      : std::string("{engine: duckdb, path: warehouse.duckdb}")) +
                                 "\n" + rest);
}

Result<std::unique_ptr<Warehouse>> OpenTestWarehouse(const std::string& duckdb_path, const std::string& postgres_dsn) {
  if (!postgres_dsn.empty()) {
    auto options = PostgresConnectOptions(postgres_dsn);
    if (!options.ok()) return options.error();
    return OpenPostgresWarehouse(*options);
  }
  return OpenDuckDbWarehouse(duckdb_path, db::FileAccess::Unrestricted());
}

std::string EngineName(const ::testing::TestParamInfo<WarehouseEngine>& info) {
  return info.param == WarehouseEngine::kPostgres ? "postgres" : "duckdb";
}

CommandResult WarehouseProject::Derived(std::vector<std::string> args, const std::string& now) const {
  args.push_back("--project");
  args.push_back(dir_.str());
  if (!now.empty()) {
    args.push_back("--now");
    args.push_back(now);
  }
  return RunDerived(args);
}

namespace {

// While a service runs it holds the warehouse, and SQL goes through it; otherwise the test
// opens the file itself, so that its own SQL is neither checked nor logged by Derived.
bool ServiceRunning(const TempDir& dir) {
  return FindService(std::filesystem::canonical(dir.path()).string()).has_value();
}

Result<std::unique_ptr<Warehouse>> OpenDirectly(const TempDir& dir, const PostgresDatabase* pg) {
  return OpenTestWarehouse((dir.path() / "warehouse.duckdb").string(), pg ? pg->dsn() : "");
}

}  // namespace

Result<std::unique_ptr<Warehouse>> WarehouseProject::Open() const { return OpenDirectly(dir_, pg_.get()); }

void WarehouseProject::Sql(const std::string& sql) const {
  if (pg_ || !ServiceRunning(dir_)) {  // a server is shared: opened directly even beside a service
    auto wh = OpenDirectly(dir_, pg_.get());
    ASSERT_TRUE(wh.ok()) << wh.error().message;
    auto st = (*wh)->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << "\n" << st.error().message;
    return;
  }
  auto r = Derived({"query", "--write", sql});
  ASSERT_EQ(r.exit_code, 0) << sql << "\n" << r.err;
}

std::string WarehouseProject::Scalar(const std::string& sql) const {
  if (pg_ || !ServiceRunning(dir_)) {  // a server is shared: opened directly even beside a service
    auto wh = OpenDirectly(dir_, pg_.get());
    EXPECT_TRUE(wh.ok()) << wh.error().message;
    if (!wh.ok()) return "ERROR";
    auto rows = (*wh)->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.error().message;
    if (!rows.ok() || rows->size() == 0 || rows->columns.empty()) return "ERROR";
    return rows->at(0, 0).value_or("NULL");
  }
  // The text table: a header line, then the value.
  auto r = Derived({"query", sql});
  EXPECT_EQ(r.exit_code, 0) << sql << "\n" << r.err;
  auto nl = r.out.find('\n');
  if (r.exit_code != 0 || nl == std::string::npos) return "ERROR";
  std::string value = r.out.substr(nl + 1);
  return value.substr(0, value.find('\n'));
}

std::string DifferenceSql(const std::string& actual, const std::string& expected) {
  return "SELECT count(*) FROM ((" + actual + ") EXCEPT ALL (" + expected + ")) AS d UNION ALL SELECT count(*) FROM ((" +
         expected + ") EXCEPT ALL (" + actual + ")) AS d ORDER BY 1 DESC LIMIT 1";
}

int64_t WarehouseProject::Difference(const std::string& actual, const std::string& expected) const {
  return Count(DifferenceSql(actual, expected));
}

}  // namespace derived::testing
