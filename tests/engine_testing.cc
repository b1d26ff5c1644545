#include "engine_testing.h"

#include <nlohmann/json.hpp>

namespace derived::testing {

WarehouseProject::WarehouseProject() {
  dir_.Write("derived.yaml", "name: test\nwarehouse: {engine: duckdb, path: warehouse.duckdb}\n");
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

void WarehouseProject::Sql(const std::string& sql) const {
  auto r = Derived({"query", sql});
  ASSERT_EQ(r.exit_code, 0) << sql << "\n" << r.err;
}

std::string WarehouseProject::Scalar(const std::string& sql) const {
  auto r = Derived({"query", "--json", sql});
  EXPECT_EQ(r.exit_code, 0) << sql << "\n" << r.err;
  if (r.exit_code != 0 || r.out.empty()) return "ERROR";
  auto line = r.out.substr(0, r.out.find('\n'));
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || j.empty()) return "ERROR";
  const auto& v = j.begin().value();
  return v.is_null() ? "NULL" : v.get<std::string>();
}

std::string DifferenceSql(const std::string& actual, const std::string& expected) {
  return "SELECT count(*) FROM ((" + actual + ") EXCEPT ALL (" + expected + ")) UNION ALL SELECT count(*) FROM ((" +
         expected + ") EXCEPT ALL (" + actual + ")) ORDER BY 1 DESC LIMIT 1";
}

int64_t WarehouseProject::Difference(const std::string& actual, const std::string& expected) const {
  return Count(DifferenceSql(actual, expected));
}

}  // namespace derived::testing
