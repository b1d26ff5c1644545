// End-to-end tests: run the real `derived` binary on temporary projects and check its
// output and exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine_testing.h"
#include "testing.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunDerived;
using testing::TempDir;
using testing::WarehouseProject;

// The commands that compile a project (validate, dag, show), on either engine: each
// binds the project's SQL in the engine it runs on.
class CliOn : public ::testing::TestWithParam<WarehouseEngine> {};

// A small valid project: two sources, three tables across two datasets, one macro.
void WriteValidProject(const WarehouseProject& dir) {
  dir.Configure(R"(vars:
  min_amount: 10
  countries: [fr, de]
defaults:
  start: 2024-01-01
)");
  dir.Write("sources/raw/orders.yaml", R"(freshness: marker
time_column: ts
columns:
  - {name: order_id, type: BIGINT}
  - {name: user_id, type: BIGINT, tags: [pii]}
  - {name: amount, type: FLOAT8}
  - {name: country, type: VARCHAR}
  - {name: ts, type: TIMESTAMP}
)");
  dir.Write("sources/raw/users.yaml", R"(freshness: {query: select max(created_at) from raw.users}
columns:
  - {name: user_id, type: BIGINT}
  - {name: email, type: VARCHAR, tags: [pii]}
  - {name: created_at, type: TIMESTAMP}
)");
  dir.Write("macros/filters.sql", R"({% macro in_list(col, items) -%}
{{ col }} IN ({% for i in items %}'{{ i }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %})");
  dir.Write("tables/core/daily_orders.yaml", R"(description: Orders per day and country.
schedule: daily
strategy: append
time_column: day
tags: [finance]
columns:
  - {name: day, type: TIMESTAMP}
  - {name: country, type: VARCHAR}
  - {name: orders, type: BIGINT}
  - {name: revenue, type: FLOAT8}
sql: |
  SELECT date_trunc('day', ts) AS day, country, count(*) AS orders, sum(amount) AS revenue
  FROM raw.orders
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
    AND amount >= {{ var('min_amount') }}
    AND {{ in_list('country', var('countries')) }}
  GROUP BY 1, 2
)");
  dir.Write("tables/core/buyers.yaml", R"(description: First and last purchase per user.
schedule: daily
strategy: merge
time_column: last_order
merge: {keys: [user_id], rules: {first_order: min, last_order: max}}
sql: |
  WITH o AS (SELECT user_id, ts FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }})
  SELECT o.user_id, u.email, min(ts) AS first_order, max(ts) AS last_order
  FROM o JOIN raw.users u USING (user_id)
  GROUP BY 1, 2
)");
  dir.Write("tables/mart/weekly_revenue.yaml", R"(schedule: weekly
strategy: replace
sql: |
  SELECT date_trunc('week', day) AS week, sum(revenue) AS revenue
  FROM core.daily_orders
  GROUP BY 1
)");
}

TEST_P(CliOn, ValidateAcceptsAValidProject) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok: 3 tables and 2 sources are valid"));
  EXPECT_EQ(r.err, "");
}

TEST_P(CliOn, ValidateJson) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived({"validate", "--json", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["tables"], 3);
  EXPECT_EQ(doc["sources"], 2);
  EXPECT_EQ(doc["errors"], 0);
  EXPECT_TRUE(doc["diagnostics"].empty());
}

TEST_P(CliOn, ValidateReportsEveryProblemAcrossFilesWithLocations) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/typo.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT * FROM raw.order\n");
  dir.Write("tables/core/badkey.yaml", "schedul: daily\nsql: SELECT 1 AS x\n");
  dir.Write("tables/core/badcol.yaml",
            "schedule: daily\nsql: |\n  SELECT user_id,\n         amout\n  FROM raw.orders\n");
  dir.Write("tables/core/badsql.yaml", "schedule: daily\nsql: |\n  SELECT 1 AS x\n  FRM raw.orders\n");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/typo.yaml:3:20: error: unknown table 'raw.order': it is neither a source "
                               "nor a derived table (did you mean 'raw.orders'?)"));
  EXPECT_THAT(r.err, HasSubstr("tables/core/badkey.yaml:1:1: error: unknown key 'schedul' in table (did you mean "
                               "'schedule'?)"));
  EXPECT_THAT(
      r.err,
      HasSubstr(dir.postgres()
                    ? "tables/core/badcol.yaml:4:10: error: type-check failed: column \"amout\" does "
                      "not exist"
                    : "tables/core/badcol.yaml:4:10: error: type-check failed: Binder Error: Referenced "
                      "column \"amout\" not found"));
  EXPECT_THAT(r.err, HasSubstr("tables/core/badsql.yaml:4:3:"));
  EXPECT_THAT(r.err, HasSubstr("syntax error at or near \"FRM\""));
  EXPECT_THAT(r.err, HasSubstr("4 errors"));
}

TEST_P(CliOn, UnqualifiedNamesResolveInTheTablesDataset) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/from_buyers.yaml", "schedule: daily\nsql: SELECT user_id FROM buyers\n");
  dir.Write("tables/mart/wrong_dataset.yaml", "schedule: daily\nsql: SELECT user_id FROM buyers\n");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, Not(HasSubstr("from_buyers.yaml")));
  EXPECT_THAT(r.err, HasSubstr("tables/mart/wrong_dataset.yaml:2:26: error: unknown table 'buyers' (resolved as "
                               "'mart.buyers'): it is neither a source nor a derived table (did you mean "
                               "'core.buyers'?)"));
}

TEST_P(CliOn, CyclePrintsTheWholeCycle) {
  WarehouseProject dir(GetParam());
  dir.Write("tables/a/x.yaml", "schedule: daily\nsql: SELECT * FROM a.y\n");
  dir.Write("tables/a/y.yaml", "schedule: daily\nsql: SELECT * FROM a.z\n");
  dir.Write("tables/a/z.yaml", "schedule: daily\nsql: SELECT * FROM a.x\n");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("dependency cycle: a.x -> a.z -> a.y -> a.x"));
}

TEST_P(CliOn, DeclaredColumnsAreCheckedAgainstTheQuery) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/declared.yaml", R"(schedule: daily
columns:
  - {name: user_id, type: BIGINT}
  - {name: emial, type: VARCHAR}
  - {name: amount, type: INTEGER}
  - {name: n, type: STRNG}
sql: SELECT user_id, amount, 1 AS n FROM raw.orders
)");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("declared.yaml:4:5: error: declared column 'emial' is not returned by the query"));
  // Each engine spells the types its own way.
  EXPECT_THAT(r.err,
              HasSubstr(dir.postgres()
                            ? "declared.yaml:5:5: error: column 'amount' is declared integer but the query "
                              "returns double precision"
                            : "declared.yaml:5:5: error: column 'amount' is declared INTEGER but the query "
                              "returns DOUBLE"));
  EXPECT_THAT(r.err, HasSubstr("declared.yaml:6:5: error: unknown type 'STRNG'"));
}

TEST_P(CliOn, ConfigColumnsMustBeOutputColumns) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/cfg.yaml", R"(schedule: daily
strategy: merge
time_column: tss
merge: {keys: [user], rules: {amount: sum}}
tests:
  - not_null: [order_idd]
sql: SELECT user_id, amount, ts FROM raw.orders
)");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cfg.yaml:3:1: error: time_column 'tss' is not a column the query returns (did you "
                               "mean 'ts'?)"));
  EXPECT_THAT(r.err, HasSubstr("merge key 'user' is not a column the query returns"));
  EXPECT_THAT(r.err, HasSubstr("not_null column 'order_idd' is not a column the query returns"));
}

TEST_P(CliOn, TemplateErrorsCarryFileAndLine) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/tpl.yaml", "schedule: daily\nsql: |\n  SELECT 1 AS x\n  {% if true %}\n  FROM raw.orders\n");
  dir.Write("tables/core/var.yaml", "schedule: daily\nsql: |\n  SELECT {{ var('min_amont') }} AS x\n");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/tpl.yaml:"));
  EXPECT_THAT(r.err, HasSubstr("endif"));
  EXPECT_THAT(r.err, HasSubstr("tables/core/var.yaml:3"));
  EXPECT_THAT(r.err, HasSubstr("var('min_amont') is not defined in derived.yaml vars (did you mean 'min_amount'?)"));
}

TEST_P(CliOn, CacheGivesTheSameAnswers) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  dir.Write("tables/core/badcol.yaml", "schedule: daily\nsql: SELECT amout FROM raw.orders\n");
  auto first = RunDerived({"validate", "--json", "--project", dir.dir().str()});
  auto second = RunDerived({"validate", "--json", "--project", dir.dir().str()});
  auto a = nlohmann::json::parse(first.out), b = nlohmann::json::parse(second.out);
  EXPECT_EQ(a["diagnostics"], b["diagnostics"]);
  EXPECT_EQ(a["errors"], 1);
  EXPECT_EQ(b["cache"]["misses"], 0);
  EXPECT_GT(b["cache"]["hits"], 0);
  // A change to an upstream's schema invalidates what depends on it.
  dir.Write("sources/raw/orders.yaml", R"(freshness: marker
columns:
  - {name: order_id, type: BIGINT}
  - {name: user_id, type: BIGINT}
  - {name: amout, type: FLOAT8}
  - {name: country, type: VARCHAR}
  - {name: ts, type: TIMESTAMP}
)");
  auto third = RunDerived({"validate", "--json", "--project", dir.dir().str()});
  auto c = nlohmann::json::parse(third.out);
  std::string all = c["diagnostics"].dump();
  EXPECT_THAT(all, Not(HasSubstr("badcol.yaml")));
  EXPECT_THAT(all, HasSubstr("daily_orders.yaml"));  // it reads `amount`, now gone
}

TEST_P(CliOn, DagJsonHasOneObjectPerNode) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived({"dag", "--format", "json", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& n : doc) by_name[n["name"]] = n;
  ASSERT_EQ(by_name.size(), 5u);
  EXPECT_EQ(by_name["raw.orders"]["kind"], "source");
  EXPECT_EQ(by_name["core.buyers"]["kind"], "table");
  EXPECT_EQ(by_name["core.buyers"]["upstream"], nlohmann::json({"raw.orders", "raw.users"}));
  EXPECT_EQ(by_name["mart.weekly_revenue"]["upstream"], nlohmann::json({"core.daily_orders"}));
  EXPECT_EQ(by_name["core.daily_orders"]["downstream"], nlohmann::json({"mart.weekly_revenue"}));
  // Topological: every node after its upstreams.
  std::map<std::string, size_t> pos;
  for (size_t i = 0; i < doc.size(); ++i) pos[doc[i]["name"]] = i;
  for (const auto& n : doc)
    for (const auto& up : n["upstream"]) EXPECT_LT(pos[up], pos[n["name"]]);
}

TEST_P(CliOn, DagSelectAndFormats) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived(
      {"dag", "--select", "+mart.weekly_revenue", "--format", "json", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const auto& n : nlohmann::json::parse(r.out)) names.push_back(n["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"raw.orders", "core.daily_orders", "mart.weekly_revenue"}));

  r = RunDerived({"dag", "--select", "tag:finance+", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.daily_orders"));
  EXPECT_THAT(r.out, HasSubstr("mart.weekly_revenue  weekly replace   <- core.daily_orders"));
  EXPECT_THAT(r.out, Not(HasSubstr("buyers")));

  r = RunDerived({"dag", "--format", "dot", "--select", "core.*", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("digraph derived {"));
  EXPECT_THAT(r.out, HasSubstr("\"core.buyers\" [shape=box];"));
  EXPECT_THAT(r.out, Not(HasSubstr("->")));

  r = RunDerived({"dag", "--select", "core.byers", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean 'core.buyers'?"));
}

TEST_P(CliOn, ShowTable) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived(
      {"show", "core.buyers", "--project", dir.dir().str(), "--window-start", "2024-03-05T10:00:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.buyers  (tables/core/buyers.yaml)"));
  EXPECT_THAT(r.out, HasSubstr("strategy:    merge"));
  EXPECT_THAT(r.out, HasSubstr("upstream:    raw.orders, raw.users"));
  EXPECT_THAT(r.out, HasSubstr("SQL for window [2024-03-05T00:00:00Z, 2024-03-06T00:00:00Z):"));
  EXPECT_THAT(r.out, HasSubstr("ts >= TIMESTAMP '2024-03-05 00:00:00' AND ts < TIMESTAMP '2024-03-06 00:00:00'"));
  EXPECT_THAT(r.out, HasSubstr("email"));
  EXPECT_THAT(r.out, HasSubstr("<- raw.users.email"));
}

TEST_P(CliOn, ShowJsonHasLineage) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived({"show", "mart.weekly_revenue", "--json", "--project", dir.dir().str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["upstream"], nlohmann::json({"core.daily_orders"}));
  ASSERT_EQ(doc["lineage"].size(), 2u);
  EXPECT_EQ(doc["lineage"][0]["column"], "week");
  EXPECT_EQ(doc["lineage"][0]["inputs"], nlohmann::json::parse(R"([{"table":"core.daily_orders","column":"day"}])"));
  EXPECT_EQ(doc["lineage"][1]["inputs"],
            nlohmann::json::parse(R"([{"table":"core.daily_orders","column":"revenue"}])"));
  EXPECT_EQ(doc["schema"][1]["type"], dir.postgres() ? "double precision" : "DOUBLE");
}

TEST_P(CliOn, ShowUnknownTable) {
  WarehouseProject dir(GetParam());
  WriteValidProject(dir);
  auto r = RunDerived({"show", "core.buyer", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown table 'core.buyer' (did you mean 'core.buyers'?)"));
  r = RunDerived({"show", "raw.orders", "--project", dir.dir().str()});
  EXPECT_THAT(r.err, HasSubstr("is a source"));
}

// DuckDB-only: `init` makes a DuckDB project whose source is a CSV file (`location:`).
TEST(Cli, InitCreatesAValidProjectAndNeverOverwrites) {
  TempDir dir;
  std::string p = dir.str() + "/proj";
  auto r = RunDerived({"init", p});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = RunDerived({"validate", "--project", p});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.err, "");
  // It ships its own data and builds end to end, on the real clock, with no marks.
  auto run = RunDerived({"run", "--once", "--project", p});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("built    core.daily_events"));
  EXPECT_THAT(run.out, HasSubstr("built    core.user_activity"));
  const std::string csv = "read_csv('" + p + "/data/events.csv')";
  auto diff = RunDerived(
      {"query", "--json", "--project", p,
       "SELECT (" +
           testing::DifferenceSql("SELECT * FROM core.daily_events",
                                  "SELECT date_trunc('day', event_ts), user_id, lower(event_type), count(*) FROM " +
                                      csv + " WHERE lower(event_type) NOT IN ('test', 'internal') GROUP BY ALL") +
           ") AS d, (SELECT count(*) FROM core.daily_events) AS n"});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  auto row = nlohmann::json::parse(diff.out.substr(0, diff.out.find('\n')));
  EXPECT_EQ(row["d"], 0) << diff.out;
  EXPECT_GT(row["n"].get<int64_t>(), 20);
  dir.Write("proj/derived.yaml", "name: mine\n");
  r = RunDerived({"init", p});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_EQ(dir.Read("proj/derived.yaml"), "name: mine\n");
}

// No engine: the arguments are refused before any project is read.
TEST(Cli, BadArgumentsExitTwo) {
  EXPECT_EQ(RunDerived({}).exit_code, 2);
  EXPECT_EQ(RunDerived({"frobnicate"}).exit_code, 2);
  auto r = RunDerived({"dag", "--format", "svg"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunDerived({"validate", "--now", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--now"));
}

// No engine: there is no project, or its engine is unknown.
TEST(Cli, MissingProject) {
  TempDir dir;
  auto r = RunDerived({"validate", "--project", dir.str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no derived.yaml"));
  dir.Write("derived.yaml", "name: x\nwarehouse: {engine: mysql}\n");
  r = RunDerived({"validate", "--project", dir.str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("derived.yaml:2:21: error: unsupported warehouse engine 'mysql'"));
}

INSTANTIATE_TEST_SUITE_P(BothEngines, CliOn, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// DuckDB-only: the warehouse is a DuckDB file, whose name DuckDB also makes a catalog name.
TEST(Cli, AWarehouseFileNamedLikeADatasetIsRejected) {
  WarehouseProject dir;
  WriteValidProject(dir);
  dir.Write("derived.yaml", "name: shop\nwarehouse: {engine: duckdb, path: data/raw.duckdb}\ndefaults: {start: 2024-01-01}\n");
  auto r = RunDerived({"validate", "--project", dir.dir().str()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("derived.yaml:1:1: error: the warehouse file 'data/raw.duckdb' has the same name as the "
                               "dataset 'raw', which makes 'raw.<table>' ambiguous in DuckDB: rename the file"));
}

}  // namespace
}  // namespace derived
