// Shadow environments end to end, through the real `derived` binary on both engines: a
// 30-table project built in production, one table changed on the "branch", and `derived
// shadow build` building exactly that table and its downstream into the environment's
// schemas, reading production for the rest. Production's tables and `_derived` are read
// whole before and after and must be identical; the environment's tables must equal plain
// SQL over the raw data for the range the report says it covers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine_testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using testing::WarehouseProject;

constexpr const char* kNow = "2024-01-31T06:00:00Z";
constexpr int kChains = 10;

// core.daily_i (append) <- raw.events; mart.m_i (append; m_9 a view) <- core.daily_i;
// agg.sum_i (replace) <- mart.m_i: 30 tables.
std::string DailySql(int i, int offset) {
  return fmt::format(
      "SELECT date_trunc('day', ts) AS day, count(*) AS n, sum(amount) + {} AS total FROM raw.events "
      "WHERE ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}} GROUP BY 1",
      i + offset);
}

void WriteProject(const WarehouseProject& p, int changed = -1) {
  p.Write("sources/raw/events.yaml", testing::kEventsSource);
  for (int i = 0; i < kChains; ++i) {
    p.Write(fmt::format("tables/core/daily_{}.yaml", i),
            "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
            "tests:\n  - unique: [day]\nsql: " +
                DailySql(i, i == changed ? 100 : 0) + "\n");
    if (i == kChains - 1) {
      p.Write(fmt::format("tables/mart/m_{}.yaml", i),
              fmt::format("strategy: view\nsql: SELECT day, n * 2 AS n2, total FROM core.daily_{}\n", i));
    } else {
      p.Write(fmt::format("tables/mart/m_{}.yaml", i),
              fmt::format("schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                          "sql: SELECT day, n * 2 AS n2, total FROM core.daily_{} AS d WHERE day >= "
                          "{{{{ window_start }}}} AND day < {{{{ window_end }}}}\n",
                          i));
    }
    p.Write(fmt::format("tables/agg/sum_{}.yaml", i),
            fmt::format("schedule: daily\nstrategy: replace\nsql: SELECT count(*) AS days, sum(n2) AS n2, sum(total) AS total FROM "
                        "mart.m_{}\n",
                        i));
  }
}

// Every row of every table outside the environments' schemas, _derived's included, as
// text, sorted: what "production was not touched" compares.
std::map<std::string, std::vector<std::string>> Production(const WarehouseProject& p) {
  auto wh = p.Open();
  EXPECT_TRUE(wh.ok()) << wh.error().message;
  std::map<std::string, std::vector<std::string>> out;
  if (!wh.ok()) return out;
  auto tables = (*wh)->Query(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
      "('information_schema', 'pg_catalog') AND table_schema NOT LIKE 'shadow%' ORDER BY 1, 2");
  EXPECT_TRUE(tables.ok()) << tables.error().message;
  if (!tables.ok()) return out;
  for (const auto& r : tables->rows) {
    std::string name = fmt::format("\"{}\".\"{}\"", *r[0], *r[1]);
    auto rows = (*wh)->Query("SELECT * FROM " + name);
    EXPECT_TRUE(rows.ok()) << name << ": " << rows.error().message;
    if (!rows.ok()) continue;
    std::vector<std::string> lines;
    for (const auto& row : rows->rows) {
      std::string line;
      for (const auto& v : row) line += (v ? "'" + *v + "'" : "NULL") + "|";
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    out[name] = std::move(lines);
  }
  return out;
}

std::set<std::string> Schemas(const WarehouseProject& p, const std::string& prefix) {
  auto wh = p.Open();
  EXPECT_TRUE(wh.ok());
  std::set<std::string> out;
  if (!wh.ok()) return out;
  auto rows = (*wh)->Query("SELECT DISTINCT schema_name FROM information_schema.schemata");
  EXPECT_TRUE(rows.ok());
  for (const auto& r : rows->rows) {
    if (r[0] && r[0]->rfind(prefix, 0) == 0) out.insert(*r[0]);
  }
  return out;
}

class ShadowEnvironments : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  void SetUp() override {
    p_ = std::make_unique<WarehouseProject>(GetParam());
    p_->Sql(testing::kEventsData);
    WriteProject(*p_);
    ASSERT_EQ(p_->Derived({"source", "mark", "raw.events", "--through", "2024-01-31"}, kNow).exit_code, 0);
    auto r = p_->Derived({"run", "--once"}, kNow);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_EQ(p_->Count("SELECT count(*) FROM core.daily_3"), 30);
  }

  // What core.daily_I holds with `offset` over [from, to), by plain SQL over raw.events.
  static std::string ExpectedDaily(int i, int offset, const std::string& from, const std::string& to) {
    return fmt::format(
        "SELECT date_trunc('day', ts) AS day, count(*) AS n, sum(amount) + {} AS total FROM raw.events "
        "WHERE ts >= TIMESTAMP '{}' AND ts < TIMESTAMP '{}' GROUP BY 1",
        i + offset, from, to);
  }

  std::unique_ptr<WarehouseProject> p_;
};

TEST_P(ShadowEnvironments, AChangedTableAndItsDownstreamAreBuiltBesideProductionWhichStaysAsItWas) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  ASSERT_GE(before.size(), 29u + 4u);  // 29 tables (one a view is not a table on every engine) and _derived

  WriteProject(p, /*changed=*/3);
  auto r = p.Derived({"shadow", "build", "--env", "pr_7", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> built;
  for (const auto& t : report["tables"]) built[t["table"]] = t["reason"];
  EXPECT_EQ(built, (std::map<std::string, std::string>{
                       {"core.daily_3", "changed"}, {"mart.m_3", "downstream"}, {"agg.sum_3", "downstream"}}));
  EXPECT_EQ(report["last"], "3 days");
  for (const auto& t : report["tables"]) {
    EXPECT_EQ(t["status"], "built") << t.dump();
    if (t["strategy"] == "append") EXPECT_EQ(t["from"], "2024-01-28T00:00:00Z") << t.dump();
  }
  // Only the three, in schemas of the environment's own.
  EXPECT_EQ(Schemas(p, "shadow__"), (std::set<std::string>{"shadow__pr_7___derived", "shadow__pr_7__agg",
                                                           "shadow__pr_7__core", "shadow__pr_7__mart"}));
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema LIKE 'shadow%' AND "
                    "table_schema NOT LIKE '%\\_\\_\\_derived' ESCAPE '\\'"),
            3);

  // The changed table over the range it covers, what reads it from the environment, and
  // the replace table over what the environment holds.
  const std::string from = "2024-01-28", to = "2024-01-31";
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__pr_7__core.daily_3", ExpectedDaily(3, 100, from, to)), 0);
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__pr_7__mart.m_3",
                         "SELECT day, n * 2 AS n2, total FROM (" + ExpectedDaily(3, 100, from, to) + ") e"),
            0);
  EXPECT_EQ(p.Scalar("SELECT days || ' ' || CAST(total AS BIGINT) FROM shadow__pr_7__agg.sum_3"),
            p.Scalar("SELECT count(*) || ' ' || CAST(sum(total) AS BIGINT) FROM (" + ExpectedDaily(3, 100, from, to) +
                     ") e"));
  // Its state and log rows are the environment's, marked with it.
  EXPECT_EQ(p.Count("SELECT count(*) FROM shadow__pr_7___derived.state"), 3);
  EXPECT_EQ(p.Count("SELECT count(*) FROM shadow__pr_7___derived.log WHERE operation = 'shadow' AND "
                    "(details->>'environment') = 'pr_7'"),
            3);

  // Production: every table and every row of _derived as it was.
  EXPECT_EQ(Production(p), before);

  // Built again with nothing changed since: nothing to build, nothing written anywhere.
  auto again = p.Derived({"shadow", "build", "--env", "pr_7"}, kNow);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Production(p), before);

  // Dropped: the environment's schemas go, production stays.
  auto drop = p.Derived({"shadow", "drop", "--env", "pr_7"}, kNow);
  ASSERT_EQ(drop.exit_code, 0) << drop.err;
  EXPECT_EQ(Schemas(p, "shadow__"), std::set<std::string>{});
  EXPECT_EQ(Production(p), before);
}

TEST_P(ShadowEnvironments, AFullBuildCoversEveryWindowFromTheStart) {
  WarehouseProject& p = *p_;
  WriteProject(p, /*changed=*/0);
  auto r = p.Derived({"shadow", "build", "--env", "full", "--full", "--json"}, kNow);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["full"], true);
  EXPECT_EQ(p.Difference("SELECT * FROM shadow__full__core.daily_0", ExpectedDaily(0, 100, "2024-01-01", "2024-01-31")),
            0);
  // An unchanged chain is production's: the environment holds nothing of it.
  EXPECT_EQ(Schemas(p, "shadow__full__").count("shadow__full__core"), 1u);
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shadow__full__core'"), 1);
}

TEST_P(ShadowEnvironments, EnvironmentsAreListedDroppedAloneAndExpireWhenIdle) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  WriteProject(p, /*changed=*/1);
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "old"}, "2024-01-31T06:00:00Z").exit_code, 0);
  // Built in full: windows before now - last, which the source is complete through.
  ASSERT_EQ(p.Derived({"shadow", "build", "--env", "fresh", "--full"}, "2024-02-06T06:00:00Z").exit_code, 0);
  auto list = p.Derived({"shadow", "list", "--json"}, "2024-02-06T06:00:00Z");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto envs = nlohmann::json::parse(list.out);
  ASSERT_EQ(envs.size(), 2u) << list.out;
  EXPECT_EQ(envs[0]["environment"], "fresh");
  EXPECT_EQ(envs[1]["environment"], "old");
  EXPECT_EQ(envs[1]["last_built"], "2024-01-31T06:00:00Z");

  // A name that is not an environment, or not a name at all, drops nothing.
  auto none = p.Derived({"shadow", "drop", "--env", "nope"}, kNow);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no shadow environment 'nope' (there are: fresh, old)"));
  auto bad = p.Derived({"shadow", "drop", "--env", "core"}, kNow);
  EXPECT_EQ(bad.exit_code, 1);
  auto worse = p.Derived({"shadow", "drop", "--env", "x__core"}, kNow);
  EXPECT_EQ(worse.exit_code, 2);
  EXPECT_THAT(worse.err, HasSubstr("--env: environment name 'x__core'"));

  // Seven idle days (derived.yaml's default) later, `old` is dropped by the next build.
  p.Configure("shadow: {expire_after: 7 days, last: 1 day}\n");
  auto later = p.Derived({"shadow", "build", "--env", "fresh", "--full"}, "2024-02-08T06:00:00Z");
  ASSERT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_THAT(later.err, HasSubstr("dropped shadow environment old: idle for 7 days"));
  EXPECT_EQ(Schemas(p, "shadow__old__"), std::set<std::string>{});
  EXPECT_EQ(Schemas(p, "shadow__fresh__").size(), 4u);
  EXPECT_EQ(Production(p), before);
}

TEST_P(ShadowEnvironments, ABranchThatDoesNotValidateBuildsNothing) {
  WarehouseProject& p = *p_;
  const auto before = Production(p);
  p.Write("tables/core/daily_2.yaml", "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                                      "sql: SELECT day FROM core.nowhere\n");
  auto r = p.Derived({"shadow", "build", "--env", "broken"}, kNow);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/daily_2.yaml"));
  EXPECT_THAT(r.err, HasSubstr("no shadow environment was built"));
  EXPECT_EQ(Schemas(p, "shadow__"), std::set<std::string>{});
  EXPECT_EQ(Production(p), before);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ShadowEnvironments, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
