// Data tests run inside a mutation's transaction, after the data changed and before it
// commits (write-audit-publish): a failing test rolls the mutation back.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/model.h"
#include "warehouse/warehouse.h"

namespace derived {

struct TestFailure {
  std::string name;
  int64_t offending = 0;   // rows that break it (row_count: the table's row count)
  std::string summary;     // one line for humans
  nlohmann::json samples;  // up to five offending rows, as objects
};

// Custom test SQL after templating ({{ this }} and the window).
using RenderTestSql = std::function<Result<std::string>(const TestDef&)>;

// Runs every test of `def` against `table` (quoted, qualified) and returns the failures.
// An error means a test could not run (bad SQL in a custom test, located at the test),
// which also fails.
Result<std::vector<TestFailure>> RunDataTests(Warehouse& wh, const TableDef& def, const std::string& table,
                                              const RenderTestSql& render);

// Failed tests as a failed step reports them: one message naming the table's file, and
// the log row's details ({"tests": [{test, offending, samples}, ...]}).
struct AuditVerdict {
  std::string message;
  nlohmann::json details;
};
AuditVerdict VerdictOf(const TableDef& def, const std::vector<TestFailure>& failures);

// The query returning the rows that break a test (not used for row_count; for a custom
// test, its SQL template).
std::string OffendingRowsSql(const SqlDialect& d, const TestDef& test, const std::string& table);

}  // namespace derived
