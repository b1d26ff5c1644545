// Completeness end to end, the way a dbt user lays out a project: CSV sources marked by
// an ingestion pipeline, a staging layer (replace tables, or views), an append mart and a
// replace mart. At every step each table's contents equal plain SQL over the CSVs for
// the completeness it claims, and each completeness is exactly what its inputs allow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine_testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using testing::WarehouseProject;

// A bike-rental shop: riders sign up, rent bikes, and are charged for rentals.
class RentalShop {
 public:
  explicit RentalShop(const std::string& staging) {
    p_.Write("derived.yaml", "name: rentals\nwarehouse: {engine: duckdb, path: warehouse.duckdb}\n"
                             "defaults: {start: 2024-04-01, schedule: daily}\n");
    const char* sources[][3] = {
        {"riders", "joined_on", "{name: rider_id, type: BIGINT}, {name: name, type: VARCHAR}, {name: joined_on, type: DATE}"},
        {"rentals", "rented_on",
         "{name: rental_id, type: BIGINT}, {name: rider_id, type: BIGINT}, {name: rented_on, type: DATE}, "
         "{name: bike, type: VARCHAR}"},
        {"charges", "charged_on",
         "{name: charge_id, type: BIGINT}, {name: rental_id, type: BIGINT}, {name: charged_on, type: DATE}, "
         "{name: cents, type: BIGINT}"}};
    for (const auto& s : sources) {
      p_.Write(fmt::format("sources/raw/{}.yaml", s[0]),
               fmt::format("location: data/{0}.csv\nfreshness: marker\ntime_column: {1}\ncolumns: [{2}]\n", s[0], s[1],
                           s[2]));
    }
    std::string kind = "strategy: " + staging + "\n";
    p_.Write("tables/staging/stg_riders.yaml",
             kind + "sql: SELECT rider_id, upper(name) AS rider, joined_on FROM raw.riders\n");
    p_.Write("tables/staging/stg_rentals.yaml",
             kind + "sql: SELECT rental_id, rider_id, rented_on, lower(bike) AS bike FROM raw.rentals\n");
    p_.Write("tables/staging/stg_charges.yaml",
             kind + "tests: [{not_null: [amount]}]\n"
                    "sql: SELECT charge_id, rental_id, charged_on, cents * 10 AS amount FROM raw.charges\n");
    p_.Write("tables/marts/daily_rentals.yaml", R"(strategy: append
time_column: day
sql: |
  SELECT rented_on AS day, bike, count(*) AS rentals
  FROM staging.stg_rentals
  WHERE rented_on >= {{ window_start }} AND rented_on < {{ window_end }}
  GROUP BY ALL
)");
    p_.Write("tables/marts/riders.yaml", R"(strategy: replace
sql: |
  SELECT r.rider_id, r.rider, count(DISTINCT n.rental_id) AS rentals, coalesce(sum(c.amount), 0) AS spent
  FROM staging.stg_riders r
  LEFT JOIN staging.stg_rentals n USING (rider_id)
  LEFT JOIN staging.stg_charges c USING (rental_id)
  GROUP BY ALL
)");
  }

  // Rows landing in a CSV file (the whole file is written again, as an export job does).
  void Land(const std::string& source, const std::string& header, const std::vector<std::string>& rows) {
    auto& all = files_[source];
    all.insert(all.end(), rows.begin(), rows.end());
    std::string text = header + "\n";
    for (const auto& r : all) text += r + "\n";
    p_.Write("data/" + source + ".csv", text);
  }

  void Mark(const std::string& source, const std::string& through) {
    auto r = p_.Derived({"source", "mark", "raw." + source, "--through", through});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  testing::CommandResult Run(const std::string& now) { return p_.Derived({"run", "--once"}, now); }

  // Every node's completeness, as `status` reports it ("-" for none).
  std::map<std::string, std::string> Completeness(const std::string& now) {
    auto r = p_.Derived({"status", "--json"}, now);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    for (const auto& row : nlohmann::json::parse(r.out)) {
      out[row["table"]] = row["complete_through"].is_null() ? "-" : row["complete_through"].get<std::string>();
    }
    return out;
  }

  // Every table against plain SQL over the CSV files, as far as `through` (its claimed
  // completeness): staging and the append mart row by row before it, the replace mart
  // whole (it was built only from complete data).
  void ExpectMatchesCsv(const std::map<std::string, std::string>& through) {
    auto csv = [&](const std::string& name) { return fmt::format("read_csv('{}/data/{}.csv')", p_.dir().str(), name); };
    auto lit = [&](const std::string& table) { return fmt::format("DATE '{}'", through.at(table).substr(0, 10)); };
    struct Check {
      std::string table, actual, expected;
    };
    std::vector<Check> checks = {
        {"staging.stg_riders", "SELECT * FROM staging.stg_riders WHERE joined_on < " + lit("staging.stg_riders"),
         "SELECT rider_id, upper(name), joined_on FROM " + csv("riders") + " WHERE joined_on < " +
             lit("staging.stg_riders")},
        {"staging.stg_rentals", "SELECT * FROM staging.stg_rentals WHERE rented_on < " + lit("staging.stg_rentals"),
         "SELECT rental_id, rider_id, rented_on, lower(bike) FROM " + csv("rentals") + " WHERE rented_on < " +
             lit("staging.stg_rentals")},
        {"staging.stg_charges", "SELECT * FROM staging.stg_charges WHERE charged_on < " + lit("staging.stg_charges"),
         "SELECT charge_id, rental_id, charged_on, cents * 10 FROM " + csv("charges") + " WHERE charged_on < " +
             lit("staging.stg_charges")},
        {"marts.daily_rentals", "SELECT * FROM marts.daily_rentals",
         "SELECT rented_on, lower(bike), count(*) FROM " + csv("rentals") + " WHERE rented_on < " +
             lit("marts.daily_rentals") + " GROUP BY ALL"},
        {"marts.riders", "SELECT * FROM marts.riders",
         fmt::format("SELECT r.rider_id, upper(r.name), count(DISTINCT n.rental_id), coalesce(sum(c.cents * 10), 0) "
                     "FROM (SELECT * FROM {} WHERE joined_on < {}) r "
                     "LEFT JOIN (SELECT * FROM {} WHERE rented_on < {}) n USING (rider_id) "
                     "LEFT JOIN (SELECT * FROM {} WHERE charged_on < {}) c USING (rental_id) GROUP BY ALL",
                     csv("riders"), lit("marts.riders"), csv("rentals"), lit("marts.riders"), csv("charges"),
                     lit("marts.riders"))},
    };
    // One query for all of them: a row per table with its difference.
    std::string sql;
    for (const auto& c : checks) {
      sql += fmt::format("{}SELECT '{}' AS t, ({}) AS d", sql.empty() ? "" : " UNION ALL ", c.table,
                         testing::DifferenceSql(c.actual, c.expected));
    }
    auto r = p_.Derived({"query", "--json", sql});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, int64_t> diff;
    for (const auto& line : Split(r.out, '\n')) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line);
      diff[j["t"].get<std::string>()] = j["d"].is_string() ? std::stoll(j["d"].get<std::string>()) : j["d"].get<int64_t>();
    }
    for (const auto& c : checks) {
      EXPECT_EQ(diff[c.table], 0) << c.table << " complete through " << through.at(c.table) << ": rows differ from "
                                  << c.expected;
    }
  }

  void ExpectCompleteness(const std::map<std::string, std::string>& expected, const std::string& now) {
    auto actual = Completeness(now);
    for (const auto& [table, through] : expected) EXPECT_EQ(actual[table], through) << table;
  }

  WarehouseProject& project() { return p_; }

 private:
  WarehouseProject p_;
  std::map<std::string, std::vector<std::string>> files_;
};

const char* kRiders = "rider_id,name,joined_on";
const char* kRentals = "rental_id,rider_id,rented_on,bike";
const char* kCharges = "charge_id,rental_id,charged_on,cents";

std::map<std::string, std::string> Everything(const std::string& staging, const std::string& daily,
                                              const std::string& riders, const std::string& charges = "") {
  return {{"staging.stg_riders", staging},
          {"staging.stg_rentals", staging},
          {"staging.stg_charges", charges.empty() ? staging : charges},
          {"marts.daily_rentals", daily},
          {"marts.riders", riders}};
}

// DuckDB-only: the sources are CSV files (`location:`).
class StagingLayer : public ::testing::TestWithParam<std::string> {};

TEST_P(StagingLayer, DataLandedBeforeItsMarkIsNeverLostAndMartsWaitForEveryInput) {
  RentalShop shop(GetParam());
  // 1. Nine days of data, marked through the 10th; the clock on the 10th.
  std::vector<std::string> riders, rentals, charges;
  for (int d = 1; d <= 9; ++d) {
    riders.push_back(fmt::format("{0},rider {0},2024-04-0{0}", d));
    for (int k = 0; k < 3; ++k) {
      int id = d * 10 + k;
      rentals.push_back(fmt::format("{},{},2024-04-0{},{}", id, 1 + (id % d), d, k % 2 ? "City" : "Cargo"));
      charges.push_back(fmt::format("{0},{0},2024-04-0{1},{2}", id, d, 150 * (k + 1)));
    }
  }
  shop.Land("riders", kRiders, riders);
  shop.Land("rentals", kRentals, rentals);
  shop.Land("charges", kCharges, charges);
  for (const char* s : {"riders", "rentals", "charges"}) shop.Mark(s, "2024-04-10");
  auto r = shop.Run("2024-04-10");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string d10 = "2024-04-10T00:00:00Z", d11 = "2024-04-11T00:00:00Z", d12 = "2024-04-12T00:00:00Z";
  auto expected = Everything(d10, d10, d10);
  shop.ExpectCompleteness(expected, "2024-04-10");
  shop.ExpectMatchesCsv(expected);
  // `show` says it too, for a bare name.
  auto show = shop.project().Derived({"show", "daily_rentals", "--json"}, "2024-04-10");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(nlohmann::json::parse(show.out)["complete_through"], d10);
  show = shop.project().Derived({"show", "stg_rentals"}, "2024-04-10");
  EXPECT_THAT(show.out, HasSubstr("complete:    2024-04-10T00:00:00Z"));

  // 2. Three rentals of the 10th land; the day ends before the pipeline marks them.
  shop.Land("rentals", kRentals, {"101,1,2024-04-10,City", "102,2,2024-04-10,City", "103,3,2024-04-10,Cargo"});
  r = shop.Run("2024-04-11");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("marts.daily_rentals  append")));
  shop.ExpectCompleteness(expected, "2024-04-11");
  shop.ExpectMatchesCsv(expected);
  EXPECT_EQ(shop.project().Count("SELECT count(*) FROM marts.daily_rentals WHERE day = DATE '2024-04-10'"), 0);
  auto status = shop.project().Derived({"status"}, "2024-04-11");
  EXPECT_THAT(status.out, HasSubstr("waits for staging.stg_rentals (complete through 2024-04-10T00:00:00Z; needs "
                                    "2024-04-11T00:00:00Z)"));

  // 3. The pipeline marks the 10th: the rentals flow through, none lost.
  for (const char* s : {"riders", "rentals", "charges"}) shop.Mark(s, "2024-04-11");
  r = shop.Run("2024-04-11");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expected = Everything(d11, d11, d11);
  shop.ExpectCompleteness(expected, "2024-04-11");
  shop.ExpectMatchesCsv(expected);
  EXPECT_EQ(shop.project().Count("SELECT sum(rentals) FROM marts.daily_rentals WHERE day = DATE '2024-04-10'"), 3);

  // 4. The 11th lands everywhere, but charges are marked late: the replace mart that
  // reads them keeps its last complete version instead of mixing days.
  shop.Land("riders", kRiders, {"10,rider 10,2024-04-11"});
  shop.Land("rentals", kRentals, {"111,10,2024-04-11,City", "112,1,2024-04-11,City"});
  shop.Land("charges", kCharges, {"111,111,2024-04-11,900", "112,112,2024-04-11,300"});
  shop.Mark("riders", "2024-04-12");
  shop.Mark("rentals", "2024-04-12");
  r = shop.Run("2024-04-12");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expected = Everything(d12, d12, d11, d11);
  shop.ExpectCompleteness(expected, "2024-04-12");
  shop.ExpectMatchesCsv(expected);
  status = shop.project().Derived({"status"}, "2024-04-12");
  EXPECT_THAT(status.out, HasSubstr("waits for staging.stg_charges"));

  // 5. Charges catch up: the mart is rebuilt and complete.
  shop.Mark("charges", "2024-04-12");
  r = shop.Run("2024-04-12");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expected = Everything(d12, d12, d12);
  shop.ExpectCompleteness(expected, "2024-04-12");
  shop.ExpectMatchesCsv(expected);

  // A second run has nothing to do.
  r = shop.Run("2024-04-12T06:00:00Z");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("built")));
}

INSTANTIATE_TEST_SUITE_P(ReplaceAndViews, StagingLayer, ::testing::Values("replace", "view"));

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// Static CSVs, as a user with a folder of exports has them: everything is built with no
// marks and no clock, and a file that changes is a restatement repaired downstream.
// DuckDB-only: file sources (`location:`).
TEST(StaticFiles, BuildWithoutMarksAndAChangedAddedOrRemovedFileIsRestated) {
  WarehouseProject p;
  p.Write("sources/raw/sales.yaml", R"(location: data/sales/*.csv
freshness: static
time_column: sold_on
columns: [{name: sale_id, type: BIGINT}, {name: sold_on, type: DATE}, {name: cents, type: BIGINT}]
)");
  p.Write("tables/core/daily_sales.yaml", R"(schedule: daily
strategy: append
start: 2024-03-01
time_column: day
sql: |
  SELECT sold_on AS day, count(*) AS sales, sum(cents) AS cents FROM raw.sales
  WHERE sold_on >= {{ window_start }} AND sold_on < {{ window_end }} GROUP BY ALL
)");
  p.Write("tables/core/totals.yaml", R"(schedule: daily
strategy: replace
sql: SELECT count(*) AS days, sum(cents) AS cents FROM core.daily_sales
)");
  auto month = [&](int m, int cents) {
    std::string text = "sale_id,sold_on,cents\n";
    for (int d = 1; d <= 28; ++d) text += fmt::format("{0}{1:02},2024-{0:02}-{1:02},{2}\n", m, d, cents + d);
    p.Write(fmt::format("data/sales/2024-{:02}.csv", m), text);
  };
  month(3, 100);
  month(4, 200);
  const std::string csv = "read_csv('" + p.dir().str() + "/data/sales/*.csv')";
  auto expect_matches = [&] {
    EXPECT_EQ(p.Difference("SELECT * FROM core.daily_sales",
                           "SELECT sold_on, count(*), sum(cents) FROM " + csv + " WHERE sold_on >= DATE '2024-03-01' "
                           "GROUP BY ALL"),
              0);
    EXPECT_EQ(p.Difference("SELECT * FROM core.totals", "SELECT count(DISTINCT sold_on), sum(cents) FROM " + csv +
                                                            " WHERE sold_on >= DATE '2024-03-01'"),
              0);
  };
  // The wall clock: no --now, no marks.
  auto r = p.Derived({"run", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_matches();
  auto status = p.Derived({"status"});
  EXPECT_THAT(status.out, HasSubstr("source/static  all time"));

  const std::string now = "2026-06-01";
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto restatements = [&] { return p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'restate'"); };
  EXPECT_EQ(restatements(), 0);

  // An export job rewrites April with corrected amounts: April's windows are repaired.
  month(4, 300);
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("repair: backfill: 28 windows"));
  expect_matches();
  EXPECT_EQ(restatements(), 1);
  EXPECT_EQ(p.Scalar("SELECT strftime(window_start, '%Y-%m-%d') || ' ' || strftime(window_end, '%Y-%m-%d %H:%M:%S') "
                     "|| ' ' || (details->'files'->0->>'path') || ' ' || (details->'files'->0->>'change') FROM "
                     "_derived.log WHERE operation = 'restate'"),
            "2024-04-01 2024-04-29 00:00:00 data/sales/2024-04.csv changed");

  // The same bytes written again (a new mtime) are no change.
  month(4, 300);
  r = p.Derived({"run", "--once"}, now);
  EXPECT_EQ(restatements(), 1);

  // A file landing late with old data, and a file deleted, are restatements too.
  p.Write("data/sales/late.csv", "sale_id,sold_on,cents\n9001,2024-03-05,7\n9002,2024-03-06,8\n");
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(restatements(), 2);
  expect_matches();
  std::filesystem::remove(p.dir().path() / "data/sales/2024-03.csv");
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(restatements(), 3);
  expect_matches();
}

// A lookup file without a time column: a change to it restates all of it (logged without
// a window, "all time"), and every table that read it is repaired, each in its own way.
TEST(StaticFiles, AChangedFileWithoutATimeColumnRestatesAllOfIt) {
  WarehouseProject p;
  p.Write("sources/raw/codes.yaml", "location: data/codes.csv\nfreshness: static\ncolumns: [{name: code, type: "
                                    "VARCHAR}, {name: label, type: VARCHAR}]\n");
  p.Write("sources/raw/sales.yaml", "location: data/sales.csv\nfreshness: static\ntime_column: ts\ncolumns: [{name: "
                                    "ts, type: TIMESTAMP}, {name: code, type: VARCHAR}, {name: amt, type: BIGINT}]\n");
  p.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', s.ts) AS day, c.label, sum(s.amt) AS amt FROM raw.sales s JOIN raw.codes c USING (code)
  WHERE s.ts >= {{ window_start }} AND s.ts < {{ window_end }} GROUP BY 1, 2
)");
  p.Write("tables/core/labels.yaml", "schedule: daily\nstrategy: replace\nsql: SELECT code, upper(label) AS label FROM "
                                     "raw.codes\n");
  p.Write("tables/core/codes_view.yaml", "strategy: view\nsql: SELECT code, label FROM raw.codes\n");
  std::string sales = "ts,code,amt\n";
  for (int d = 1; d <= 9; ++d) sales += fmt::format("2024-01-0{} 10:00:00,{},{}\n", d, d % 2 ? "a" : "b", d * 10);
  p.Write("data/sales.csv", sales);
  p.Write("data/codes.csv", "code,label\na,apples\nb,bananas\n");
  const std::string dir = p.dir().str();
  auto expect_matches = [&] {
    EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                           "SELECT date_trunc('day', s.ts), c.label, sum(s.amt) FROM read_csv('" + dir +
                               "/data/sales.csv') s JOIN read_csv('" + dir + "/data/codes.csv') c USING (code) GROUP BY 1, 2"),
              0);
    EXPECT_EQ(p.Difference("SELECT * FROM core.labels",
                           "SELECT code, upper(label) FROM read_csv('" + dir + "/data/codes.csv')"),
              0);
    EXPECT_EQ(p.Difference("SELECT * FROM core.codes_view", "SELECT code, label FROM read_csv('" + dir + "/data/codes.csv')"),
              0);
  };
  const std::string now = "2024-02-01";
  auto r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_matches();

  p.Write("data/codes.csv", "code,label\na,apricots\nb,blueberries\n");
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_matches();
  EXPECT_EQ(p.Scalar("SELECT coalesce(CAST(window_start AS VARCHAR), 'none') || ' ' || (details->>'range') || ' ' || "
                     "(details->'files'->0->>'path') FROM _derived.log WHERE operation = 'restate'"),
            "none all time data/codes.csv");
  // Every window of the append table was rewritten, once.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND operation = 'backfill'"), 1);
  // Recorded: the next run has nothing to restate.
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'restate'"), 1);
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// `derived plan` and `derived run` come from the same decisions: what plan says a reload
// rebuilds (a strategy change, the readers it rewrites) is exactly what the run builds.
class PlanAndRun : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(PlanAndRun, AgreeWindowForWindow) {
  WarehouseProject p(GetParam());
  p.Configure("defaults: {start: 2024-01-01}\n");
  p.Write("sources/raw/events.yaml",
          "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, {name: v, type: BIGINT}]\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour' AS ts, "
        "CAST(i AS BIGINT) AS v FROM generate_series(0, 24 * 120 - 1) t(i)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-04-09"}).exit_code, 0);
  const char* daily_sql = "sql: |\n  SELECT date_trunc('day', ts) AS day, sum(v) AS v FROM raw.events\n"
                          "  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1\n";
  p.Write("tables/core/daily.yaml", std::string("schedule: daily\nstrategy: replace\n") + daily_sql);
  p.Write("tables/core/weekly.yaml", R"(schedule: weekly
strategy: append
time_column: week
sql: |
  SELECT date_trunc('week', day) AS week, sum(v) AS v FROM core.daily
  WHERE day >= {{ window_start }} AND day < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/recent.yaml", "strategy: view\nsql: SELECT * FROM core.daily WHERE v > 0\n");
  const std::string now = "2024-04-10";
  ASSERT_EQ(p.Derived({"run", "--once"}, now).exit_code, 0);

  // The replace table becomes an append table: 99 days rebuilt, and what reads it.
  p.Write("tables/core/daily.yaml", std::string("schedule: daily\nstrategy: append\ntime_column: day\n") + daily_sql);
  auto plan = p.Derived({"plan", "--json"}, now);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  std::map<std::string, nlohmann::json> planned;
  for (const auto& c : nlohmann::json::parse(plan.out)) planned[c["table"].get<std::string>()] = c;
  EXPECT_EQ(planned["core.daily"]["change"], "rebuild");
  EXPECT_EQ(planned["core.daily"]["windows"], 99);
  EXPECT_EQ(planned["core.weekly"]["change"], "repair");
  EXPECT_EQ(planned["core.recent"]["change"], "repair");
  auto run = p.Derived({"run", "--once", "--json"}, now);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::map<std::string, int> built;
  auto report = nlohmann::json::parse(run.out);
  for (const auto& t : report["tables"]) {
    built[t["table"].get<std::string>()] = t["windows"].get<int>();
  }
  for (const auto& [table, change] : planned) {
    EXPECT_EQ(built[table], change["windows"].get<int>()) << table << ": " << change.dump();
  }
  EXPECT_EQ(built["core.weekly"], 14);  // the weeks complete through 2024-04-08
  // And after the run there is nothing left to plan.
  plan = p.Derived({"plan", "--json"}, now);
  EXPECT_EQ(nlohmann::json::parse(plan.out).size(), 0u) << plan.out;
}

INSTANTIATE_TEST_SUITE_P(BothEngines, PlanAndRun, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// A view: no storage, complete as its inputs are; its tests run as they advance, and a
// failing test holds what reads it. Lineage passes through it; dropping one drops a view.
class ViewsOn : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(ViewsOn, TestsHoldReadersRedefinitionRebuildsThemLineagePassesThrough) {
  WarehouseProject p(GetParam());
  p.Configure("defaults: {start: 2024-01-01}\n");
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                     "{name: kind, type: VARCHAR}, {name: v, type: BIGINT}]\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour' AS ts, "
        "CAST(CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS VARCHAR) AS kind, CAST(i AS BIGINT) AS v FROM "
        "generate_series(0, 24 * 6 - 1) t(i)");
  p.Write("tables/stg/events.yaml", R"(strategy: view
description: Events of known kinds.
tests:
  - accepted_values: {column: kind, values: [a, b]}
sql: SELECT ts, kind, v * 2 AS v FROM raw.events
)");
  p.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, kind, sum(v) AS v FROM stg.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1, 2
)");
  const std::string now = "2024-01-10";
  auto expected = [](const std::string& through, int mult) {
    return fmt::format("SELECT date_trunc('day', ts), kind, sum(v * {}) FROM raw.events WHERE ts < TIMESTAMP '{}' "
                       "GROUP BY 1, 2",
                       mult, through);
  };
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    stg.events  view created"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", expected("2024-01-03", 2)), 0);
  EXPECT_EQ(p.Scalar("SELECT table_type FROM information_schema.tables WHERE table_name = 'events' AND "
                     "table_schema = 'stg'"),
            "VIEW");

  // A bad row lands with the next day: the view's test fails, and its reader waits.
  p.Sql("INSERT INTO raw.events VALUES (TIMESTAMP '2024-01-03 10:30:00', 'bogus', 1)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, now);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("FAILED   stg.events"));
  EXPECT_THAT(r.out, HasSubstr("skipped  core.daily  upstream stg.events failed"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", expected("2024-01-03", 2)), 0);
  auto status = p.Derived({"status", "--json"}, now);
  for (const auto& row : nlohmann::json::parse(status.out)) {
    if (row["table"] == "stg.events") {
      EXPECT_EQ(row["complete_through"], "2024-01-03T00:00:00Z");  // as far as its tests passed
      EXPECT_EQ(row["last_status"], "test_failed");
    }
  }
  // Fixed upstream: the test passes and the reader catches up.
  p.Sql("DELETE FROM raw.events WHERE kind = 'bogus'");
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    stg.events  view tested"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", expected("2024-01-05", 2)), 0);

  // A new definition re-creates the view in place, and its reader is rebuilt from it.
  p.Write("tables/stg/events.yaml", "strategy: view\nsql: SELECT ts, kind, v * 3 AS v FROM raw.events\n");
  r = p.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("built    stg.events  view re-created (definition changed)"));
  EXPECT_THAT(r.out, HasSubstr("core.daily  rebuild: 4 windows"));
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily", expected("2024-01-05", 3)), 0);

  // Lineage goes through the view down to the source's completeness as read.
  auto lineage = p.Derived({"lineage", "core.daily", "--window", "2024-01-02", "--json"}, now);
  ASSERT_EQ(lineage.exit_code, 0) << lineage.err;
  auto root = nlohmann::json::parse(lineage.out);
  ASSERT_EQ(root["inputs"].size(), 1u);
  EXPECT_EQ(root["inputs"][0]["table"], "stg.events");
  EXPECT_EQ(root["inputs"][0]["kind"], "view");
  EXPECT_EQ(root["inputs"][0]["inputs"][0]["table"], "raw.events");
  EXPECT_EQ(root["inputs"][0]["inputs"][0]["complete_through"], "2024-01-05T00:00:00Z");

  // Removed from the project, the view is kept until dropped, and dropping it drops a view.
  std::filesystem::remove(p.dir().path() / "tables/core/daily.yaml");
  std::filesystem::remove(p.dir().path() / "tables/stg/events.yaml");
  ASSERT_EQ(p.Derived({"run", "--once"}, now).exit_code, 0);
  r = p.Derived({"drop", "stg.events"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'stg'"), 0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM raw.events"), 144);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ViewsOn, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// An engine error at run time (here the warehouse table differs from what its source
// declares) names the template file and line that wrote the failing SQL.
class RunTimeErrors : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(RunTimeErrors, PointAtTheTemplateLine) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/sales.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                    "{name: amount, type: BIGINT}]\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.sales (ts TIMESTAMP, amt BIGINT)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.sales", "--through", "2024-01-03"}).exit_code, 0);
  p.Write("tables/core/daily.yaml", "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\n"
                                    "sql_file: daily.sql\n");
  p.Write("tables/core/daily.sql", R"({#- Daily sales.
    Reads raw.sales, one day at a time. -#}
-- one row per day
SELECT
  date_trunc('day', ts) AS day,
  {% if true %}
  sum(amount) AS amount
  {% endif %}
FROM raw.sales
WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
GROUP BY 1
)");
  auto r = p.Derived({"run", "--once"}, "2024-01-05");
  EXPECT_EQ(r.exit_code, 1);
  if (p.postgres()) {
    // PostgreSQL binds the run's type-check in the warehouse, where raw.sales is as it is:
    // the definition is refused before its query runs, at the same line.
    EXPECT_THAT(r.out, HasSubstr("FAILED   core.daily  invalid definition: tables/core/daily.sql:7:7: error: "
                                 "type-check failed: column \"amount\" does not exist"));
  } else {
    EXPECT_THAT(r.out,
                HasSubstr("tables/core/daily.sql:7:7: the query failed: Binder Error: Referenced column "
                          "\"amount\" not found"));
  }
  // The engine's excerpt numbers the lines of the statement it ran, not the file's.
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("LINE ")));
}

INSTANTIATE_TEST_SUITE_P(BothEngines, RunTimeErrors, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// A view is type-checked with the whole DAG like any table (a typo in it, or in a reader
// that uses a column the view does not have, is an error at its line), and its columns
// have lineage, through which its readers' columns reach the source.
TEST_P(ViewsOn, AreTypeCheckedAndHaveColumnLineage) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/e.yaml", "freshness: static\ncolumns: [{name: a, type: INT}, {name: b, type: VARCHAR}, {name: "
                                "ts, type: TIMESTAMP}]\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.e (a INT, b VARCHAR, ts TIMESTAMP)");
  p.Write("tables/stg/v.yaml", "strategy: view\nsql: |\n  SELECT a * 2 AS doubled, upper(b) AS label, ts\n  FROM raw.e\n");
  p.Write("tables/core/r.yaml", "schedule: daily\nstrategy: replace\nsql: |\n  SELECT label, sum(doubled) AS total\n  FROM stg.v GROUP BY "
                                "label\n");
  auto r = p.Derived({"validate"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto show = p.Derived({"show", "stg.v", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  auto doc = nlohmann::json::parse(show.out);
  std::map<std::string, std::string> from;
  for (const auto& c : doc["lineage"]) {
    ASSERT_EQ(c["inputs"].size(), 1u) << c.dump();
    from[c["column"]] = c["inputs"][0]["table"].get<std::string>() + "." + c["inputs"][0]["column"].get<std::string>();
  }
  EXPECT_EQ(from, (std::map<std::string, std::string>{{"doubled", "raw.e.a"}, {"label", "raw.e.b"}, {"ts", "raw.e.ts"}}));
  std::map<std::string, std::string> types;
  for (const auto& c : doc["schema"]) types[c["name"]] = c["type"];
  EXPECT_EQ(types.size(), 3u);
  EXPECT_EQ(ToLower(types["label"]).substr(0, 4) == "varc" || ToLower(types["label"]) == "text", true) << types["label"];
  show = p.Derived({"show", "core.r", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  doc = nlohmann::json::parse(show.out);
  for (const auto& c : doc["lineage"]) {
    if (c["column"] == "total") EXPECT_EQ(c["inputs"][0]["table"], "stg.v") << c.dump();
  }

  // A typo in the view, and a reader using a column the view does not have.
  p.Write("tables/stg/v.yaml", "strategy: view\nsql: |\n  SELECT a * 2 AS doubled, upper(bb) AS label, ts\n  FROM raw.e\n");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/stg/v.yaml:"));
  EXPECT_THAT(r.out + r.err, HasSubstr("bb"));
  p.Write("tables/stg/v.yaml", "strategy: view\nsql: |\n  SELECT a * 2 AS doubled, ts\n  FROM raw.e\n");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/r.yaml:"));
  EXPECT_THAT(r.out + r.err, HasSubstr("label"));
}

TEST_P(ViewsOn, HaveNoWindowToFilterOn) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/e.yaml", "freshness: static\ncolumns: [{name: a, type: INT}, {name: ts, type: TIMESTAMP}]\n");
  p.Write("tables/core/v.yaml", "strategy: view\nsql: |\n  SELECT a, ts FROM raw.e\n  WHERE ts < {{ window_end }}\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tables/core/v.yaml:4: error: window_end is not defined for a view: a view has no "
                               "windows"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// `validate` says, edge by edge, whether a reader waits for its input or reads a lookup.
class Lookups : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(Lookups, ValidateExplainsWhichEdgesWait) {
  WarehouseProject p(GetParam());
  p.Configure("defaults: {start: 2024-01-01, schedule: daily}\n");
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                     "{name: code, type: VARCHAR}]\n");
  p.Write("sources/raw/codes.yaml", "freshness: static\nlookup: true\ncolumns: [{name: code, type: VARCHAR}, "
                                    "{name: label, type: VARCHAR}]\n");
  p.Write("tables/core/names.yaml", "strategy: replace\nschedule: monthly\nlookup: true\n"
                                    "sql: SELECT code, upper(label) AS label FROM raw.codes\n");
  p.Write("tables/core/daily.yaml", R"(strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', e.ts) AS day, n.label, count(*) AS n FROM raw.events e
  LEFT JOIN core.names n USING (code)
  WHERE e.ts >= {{ window_start }} AND e.ts < {{ window_end }} GROUP BY 1, 2
)");
  auto r = p.Derived({"validate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("readiness: 1 edge waits for the input to be complete; 2 read a lookup:\n"
                               "  core.daily <- core.names: reads its newest version (lookup), never waits for it\n"
                               "  core.names <- raw.codes: reads its newest version (lookup), never waits for it\n"));
  r = p.Derived({"validate", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto edges = nlohmann::json::parse(r.out)["edges"];
  EXPECT_EQ(edges.size(), 3u);
  for (const auto& e : edges) EXPECT_EQ(e["waits"], e["input"] == "raw.events") << e.dump();

  // And a run does not wait for the monthly lookup to complete its month.
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour' AS ts, "
        "CAST(CASE WHEN i % 2 = 0 THEN 'x' ELSE 'y' END AS VARCHAR) AS code FROM generate_series(0, 71) t(i); "
        "CREATE TABLE raw.codes AS SELECT CAST('x' AS VARCHAR) AS code, CAST('ex' AS VARCHAR) AS label");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-01-10");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                         "SELECT date_trunc('day', ts), CASE WHEN code = 'x' THEN 'EX' END, count(*) FROM raw.events "
                         "WHERE ts < TIMESTAMP '2024-01-03' GROUP BY 1, 2"),
            0);
  // Lineage records which version of the lookup each window read.
  auto lineage = p.Derived({"lineage", "core.daily", "--window", "2024-01-01", "--json"}, "2024-01-10");
  ASSERT_EQ(lineage.exit_code, 0) << lineage.err;
  bool found = false;
  auto root = nlohmann::json::parse(lineage.out);
  for (const auto& in : root["inputs"]) {
    if (in["table"] != "core.names") continue;
    found = true;
    EXPECT_EQ(in["lookup"], true);
    EXPECT_EQ(in["version"], 1);
  }
  EXPECT_TRUE(found) << lineage.out;
}

// A lookup core.names over a static source raw.codes (code 'x' labelled `label`, through
// `names_sql`), and core.daily, a daily append over hourly raw.events of `days` days that
// joins it.
void WriteLookupProject(const WarehouseProject& p, const std::string& names_sql, int days, const std::string& label) {
  p.Configure("defaults: {start: 2024-01-01, schedule: daily}\n");
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns: [{name: ts, type: TIMESTAMP}, "
                                     "{name: code, type: VARCHAR}]\n");
  p.Write("sources/raw/codes.yaml", "freshness: static\ncolumns: [{name: code, type: VARCHAR}, {name: label, type: "
                                    "VARCHAR}]\n");
  p.Write("tables/core/names.yaml", "strategy: replace\nlookup: true\nsql: " + names_sql + "\n");
  p.Write("tables/core/daily.yaml", R"(strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', e.ts) AS day, n.label, count(*) AS n FROM raw.events e
  LEFT JOIN core.names n USING (code)
  WHERE e.ts >= {{ window_start }} AND e.ts < {{ window_end }} GROUP BY 1, 2
)");
  p.Sql(fmt::format("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 "
                    "hour' AS ts, CAST('x' AS VARCHAR) AS code FROM generate_series(0, {} * 24 - 1) t(i); "
                    "CREATE TABLE raw.codes AS SELECT CAST('x' AS VARCHAR) AS code, CAST('{}' AS VARCHAR) AS label",
                    days, label));
}

// A slowly changing dimension: the lookup's source is updated in place. Each window reads
// the lookup's newest version when it is built and keeps it; lineage and the log name
// that version, window by window. A correction restated instead rewrites them all.
TEST_P(Lookups, LineageNamesTheVersionOfTheLookupEachWindowRead) {
  WarehouseProject p(GetParam());
  WriteLookupProject(p, "SELECT code, upper(label) AS label FROM raw.codes", 5, "ex");
  auto run = [&](const std::string& through) {
    ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", through}).exit_code, 0);
    auto r = p.Derived({"run", "--once"}, through);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  };
  // What lineage says window `day` read of the lookup: that it is one, its version, and
  // whether the run it names is the one that built the window (each build of the window
  // here comes with a build of the lookup, in the same run).
  auto lineage = [&](const std::string& day) -> std::string {
    auto r = p.Derived({"lineage", "core.daily", "--window", day, "--json"}, "2024-01-06");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto root = nlohmann::json::parse(r.out, nullptr, false);
    if (!root.is_object()) return "no lineage: " + r.out;
    for (const auto& in : root["inputs"]) {
      if (in["table"] != "core.names") continue;
      return fmt::format("lookup {} version {}{}", in.value("lookup", false), in.value("version", -1),
                         in.value("run_id", "") == root.value("run_id", "-") ? "" : ", from another run");
    }
    return "core.names not in " + r.out;
  };
  // ... and what the window's log row recorded.
  auto logged = [&](const std::string& day) {
    std::string at = "TIMESTAMP '" + day + "'";
    auto inputs = nlohmann::json::parse(p.Scalar("SELECT CAST(inputs AS VARCHAR) FROM _derived.log WHERE table_name = "
                                                 "'core.daily' AND window_start <= " + at + " AND window_end > " + at +
                                                 " ORDER BY finished_at DESC LIMIT 1"),
                                        nullptr, false);
    return inputs.is_object() && inputs.contains("core.names") ? inputs["core.names"].value("data_version", int64_t{-1})
                                                              : int64_t{-1};
  };
  auto label = [&](const std::string& day) {
    return p.Scalar("SELECT coalesce(label, 'NULL') FROM core.daily WHERE day = TIMESTAMP '" + day + "'");
  };

  // Version 1 of the lookup: the first two days read it.
  run("2024-01-03");
  EXPECT_EQ(p.Count("SELECT data_version FROM _derived.state WHERE table_name = 'core.names'"), 1);
  // The dimension changes in place (no restatement): the lookup's next build, the next
  // day, is version 2, and the days built from then on read it.
  p.Sql("UPDATE raw.codes SET label = 'ecks' WHERE code = 'x'");
  run("2024-01-05");
  EXPECT_EQ(p.Count("SELECT data_version FROM _derived.state WHERE table_name = 'core.names'"), 2);
  EXPECT_EQ(lineage("2024-01-01T12:00:00Z"), "lookup true version 1");
  EXPECT_EQ(lineage("2024-01-02T12:00:00Z"), "lookup true version 1");
  EXPECT_EQ(lineage("2024-01-03T12:00:00Z"), "lookup true version 2");
  EXPECT_EQ(lineage("2024-01-04T12:00:00Z"), "lookup true version 2");
  EXPECT_EQ(logged("2024-01-01"), 1);
  EXPECT_EQ(logged("2024-01-04"), 2);
  // Each window holds the version it read: the old days are not rewritten.
  EXPECT_EQ(label("2024-01-01"), "EX");
  EXPECT_EQ(label("2024-01-04"), "ECKS");
  auto text = p.Derived({"lineage", "core.daily", "--window", "2024-01-01T12:00:00Z"}, "2024-01-06");
  EXPECT_THAT(text.out, HasSubstr("core.names ["));
  EXPECT_THAT(text.out, HasSubstr("lookup: newest version (1)"));

  // A correction of the past is restated: the lookup is repaired (version 3), and every
  // window that read it is rebuilt from that version.
  p.Sql("UPDATE raw.codes SET label = 'x-ray' WHERE code = 'x'");
  auto r = p.Derived({"source", "restate", "raw.codes", "--from", "2000-01-01", "--to", "2100-01-01"}, "2024-01-05");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(lineage("2024-01-01T12:00:00Z"), "lookup true version 3");
  EXPECT_EQ(lineage("2024-01-04T12:00:00Z"), "lookup true version 3");
  EXPECT_EQ(logged("2024-01-02"), 3);
  EXPECT_EQ(label("2024-01-01"), "X-RAY");
  EXPECT_EQ(label("2024-01-04"), "X-RAY");
}

// On a shared warehouse the lookup may commit a new version while a reader's window is
// between its plan and its query (found by the differential test, the service on
// PostgreSQL: the log named version N, the query read N+1). A reader now waits for a
// build of the lookup in flight, and records the version its query reads.
// PostgreSQL only: on DuckDB one process writes, and a window's transaction is one
// snapshot, its state read included.
TEST(LookupsOnPostgres, AWindowBuiltWhileTheLookupCommitsNamesTheVersionItRead) {
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteLookupProject(p, "SELECT code, label FROM raw.codes", 3, "old");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-02"}).exit_code, 0);
  auto first = p.Derived({"run", "--once"}, "2024-01-03");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_EQ(p.Count("SELECT data_version FROM _derived.state WHERE table_name = 'core.names'"), 1);

  // Another process's build of the lookup, in flight: its new contents and state are
  // written, not committed yet.
  auto lookup = p.Open();
  ASSERT_TRUE(lookup.ok()) << lookup.error().message;
  Warehouse& other = **lookup;
  ASSERT_TRUE(other.Begin().ok());
  ASSERT_TRUE(other.LockTable("core.names", Warehouse::LockMode::kExclusive).ok());
  ASSERT_TRUE(other.Execute("UPDATE core.names SET label = 'new'; UPDATE _derived.state SET data_version = 2 WHERE "
                            "table_name = 'core.names'").ok());
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  testing::CommandResult reader;
  std::thread run([&] { reader = p.Derived({"run", "--once", "--select", "core.daily"}, "2024-01-03"); });
  // The reader's window waits for the build (polled, bounded), which then commits.
  bool waited = false;
  for (int i = 0; i < 1000 && !waited; ++i) {
    waited = p.Count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") > 0;
    if (!waited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(waited) << "the reader never waited for the lookup's build";
  ASSERT_TRUE(other.Commit().ok());
  run.join();
  ASSERT_EQ(reader.exit_code, 0) << reader.out << reader.err;
  // The window read the new version, and its log row says so.
  EXPECT_EQ(p.Scalar("SELECT label FROM core.daily WHERE day = TIMESTAMP '2024-01-02'"), "new");
  auto inputs = nlohmann::json::parse(p.Scalar("SELECT CAST(inputs AS VARCHAR) FROM _derived.log WHERE table_name = "
                                               "'core.daily' AND window_start = TIMESTAMP '2024-01-02'"),
                                      nullptr, false);
  ASSERT_TRUE(inputs.is_object() && inputs.contains("core.names")) << inputs.dump();
  EXPECT_EQ(inputs["core.names"].value("data_version", int64_t{-1}), 2) << inputs.dump();
  EXPECT_EQ(p.Scalar("SELECT label FROM core.daily WHERE day = TIMESTAMP '2024-01-01'"), "old");
}

INSTANTIATE_TEST_SUITE_P(BothEngines, Lookups, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
