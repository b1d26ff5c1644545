#include "engine/audit.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {
namespace {

std::string ColumnList(const SqlDialect& d, const std::vector<std::string>& cols) {
  std::vector<std::string> q;
  for (const auto& c : cols) q.push_back(d.Ident(c));
  return Join(q, ", ");
}

}  // namespace

std::string OffendingRowsSql(const SqlDialect& d, const TestDef& test, const std::string& table) {
  switch (test.kind) {
    case TestDef::Kind::kNotNull: {
      std::vector<std::string> conds;
      for (const auto& c : test.columns) conds.push_back(d.Ident(c) + " IS NULL");
      return fmt::format("SELECT * FROM {} WHERE {}", table, Join(conds, " OR "));
    }
    case TestDef::Kind::kUnique: {
      std::string cols = ColumnList(d, test.columns);
      return fmt::format("SELECT {0}, count(*) AS occurrences FROM {1} GROUP BY {0} HAVING count(*) > 1", cols,
                         table);
    }
    case TestDef::Kind::kAcceptedValues: {
      std::vector<std::string> values;
      for (const auto& v : test.values) values.push_back(d.Literal(v));
      std::string c = d.Ident(test.columns[0]);
      return fmt::format("SELECT * FROM {0} WHERE {1} IS NOT NULL AND CAST({1} AS VARCHAR) NOT IN ({2})", table, c,
                         Join(values, ", "));
    }
    case TestDef::Kind::kRelationships: {
      const std::string& target = test.to_table;
      size_t dot = target.find('.');
      std::string to = d.Table(target.substr(0, dot), target.substr(dot + 1));
      std::string c = d.Ident(test.columns[0]);
      return fmt::format(
          "SELECT * FROM {0} AS child WHERE child.{1} IS NOT NULL AND NOT EXISTS "
          "(SELECT 1 FROM {2} AS parent WHERE parent.{3} = child.{1})",
          table, c, to, d.Ident(test.to_column));
    }
    case TestDef::Kind::kSql:
      return test.sql;  // a template: RunDataTests renders it
    case TestDef::Kind::kRowCount:
      break;
  }
  return "";
}

Result<std::vector<TestFailure>> RunDataTests(Warehouse& wh, const TableDef& def, const std::string& table,
                                              const RenderTestSql& render) {
  std::vector<TestFailure> failures;
  for (const auto& test : def.tests) {
    TestFailure f;
    f.name = test.name;
    if (test.kind == TestDef::Kind::kRowCount) {
      auto rows = wh.Query("SELECT count(*) FROM " + table);
      if (!rows.ok()) return Error(fmt::format("test '{}' could not run: {}", test.name, rows.error().message));
      int64_t n = std::stoll(rows->at(0, 0).value_or("0"));
      bool low = test.min_rows && n < *test.min_rows, high = test.max_rows && n > *test.max_rows;
      if (!low && !high) continue;
      f.offending = n;
      f.summary = fmt::format("test '{}' failed: the table has {} rows, {} {}", test.name, n,
                              low ? "fewer than the minimum" : "more than the maximum",
                              low ? *test.min_rows : *test.max_rows);
      f.samples = nlohmann::json::array();
      failures.push_back(std::move(f));
      continue;
    }
    std::string q = OffendingRowsSql(wh.dialect(), test, table);
    if (test.kind == TestDef::Kind::kSql) {
      auto rendered = render(test);
      if (!rendered.ok()) return Error(fmt::format("test '{}': {}", test.name, rendered.error().ToString()));
      q = *rendered;
    }
    // A test's query, a user's or one of ours, is checked to be one SELECT and runs only
    // as the subquery it is, never pasted (sql/embed.h).
    auto checked = wh.CheckQuery(q);
    if (!checked.ok()) {
      // A custom test's template can render differently for this run's window than for
      // the one validate checked.
      return Error(fmt::format("test '{}' could not run: its SQL as rendered for this run is not one SELECT: {}",
                               test.name, checked.error().message),
                   test.where);
    }
    auto count = wh.QueryEmbedded(*checked, sql::Embedding::Subquery("SELECT count(*) FROM ", "offending", ""));
    if (!count.ok()) return Error(fmt::format("test '{}' could not run: {}", test.name, count.error().message));
    int64_t n = std::stoll(count->at(0, 0).value_or("0"));
    if (n == 0) continue;
    auto sample = wh.QueryEmbedded(*checked, sql::Embedding::Subquery("SELECT * FROM ", "offending", " LIMIT 5"));
    f.offending = n;
    f.samples = sample.ok() ? sample->ToJson() : nlohmann::json::array();
    f.summary = fmt::format("test '{}' failed: {} offending row{}", test.name, n, n == 1 ? "" : "s");
    failures.push_back(std::move(f));
  }
  return failures;
}

AuditVerdict VerdictOf(const TableDef& def, const std::vector<TestFailure>& failures) {
  std::vector<std::string> lines;
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& f : failures) {
    lines.push_back(f.summary);
    tests.push_back({{"test", f.name}, {"offending", f.offending}, {"samples", f.samples}});
  }
  return {fmt::format("{}: {}", def.file, Join(lines, "; ")), {{"tests", tests}}};
}

}  // namespace derived
