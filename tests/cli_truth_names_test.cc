// Every command that takes a table or source name accepts a bare name that only one has,
// in any case, in a plain process and inside the running service; an ambiguous or
// unknown name is a usage error that says what to write instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <signal.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "engine_testing.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;

std::string Daily(const std::string& from) {
  return "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: SELECT date_trunc('day', ts) "
         "AS day, count(*) AS n FROM " +
         from + " WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1\n";
}

// core.daily and mart.daily share a bare name; core.hourly and raw.events do not.
void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n");
  p.Sql(
      "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour' "
      "AS ts "
      "FROM generate_series(0, 24 * 9 - 1) t(i)");
  p.Write("tables/core/daily.yaml", Daily("raw.events"));
  p.Write("tables/mart/daily.yaml", Daily("raw.events"));
  p.Write("tables/core/hourly.yaml",
          "schedule: hourly\nstrategy: append\nstart: 2024-01-01\ntime_column: hour\nsql: SELECT date_trunc('hour', "
          "ts) AS hour, count(*) AS n FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP "
          "BY 1\n");
}

void ExpectUsage(const CommandResult& r, const std::string& says) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(says));
}

// The commands in a plain process, on both engines.
class NamesCliOn : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(NamesCliOn, BareNamesWorkForEveryCommand) {
  WarehouseProject p(GetParam());
  WriteProject(p);
  const std::string now = "2024-01-20T00:00:00Z";
  auto r = p.Derived({"source", "mark", "EVENTS", "--through", "2024-01-08"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "raw.events is complete through 2024-01-08T00:00:00Z\n");
  ASSERT_EQ(p.Derived({"run", "--once"}, now).exit_code, 0);

  r = p.Derived({"show", "Hourly"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly  (tables/core/hourly.yaml)"));
  r = p.Derived({"backfill", "hourly", "--from", "2024-01-02", "--to", "2024-01-02T03:00:00Z"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.hourly' AND operation = 'backfill'"),
            1);
  r = p.Derived({"lineage", "hourly", "--window", "2024-01-03T05:30:00Z", "--json"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"core.hourly\""));
  r = p.Derived({"log", "HOURLY", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"table_name\":\"core.hourly\""));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("core.daily")));
  r = p.Derived({"update", "hourly", "--once"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = p.Derived({"source", "restate", "events", "--from", "2024-01-02", "--to", "2024-01-02T01:00:00Z"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly"));

  // Removed from the project, still in the warehouse: drop and log know it.
  std::filesystem::remove(p.dir().path() / "tables/core/hourly.yaml");
  ExpectUsage(p.Derived({"show", "hourly"}, now), "unknown table 'hourly'");
  r = p.Derived({"drop", "hourly"}, now);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "dropped core.hourly\n");
  EXPECT_EQ(
      p.Count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'core' AND table_name = "
              "'hourly'"),
      0);
  r = p.Derived({"log", "hourly", "--limit", "1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"operation\":\"drop\""));
}

// A table whose file exists but does not load is broken, not removed or unknown: every
// command that names it says so, and none touches its data.
TEST_P(NamesCliOn, ATableWhoseFileDoesNotLoadIsBrokenForEveryCommand) {
  WarehouseProject p(GetParam());
  WriteProject(p);
  const std::string now = "2024-01-20T00:00:00Z";
  ASSERT_EQ(p.Derived({"source", "mark", "events", "--through", "2024-01-08"}).exit_code, 0);
  ASSERT_EQ(p.Derived({"run", "--once"}, now).exit_code, 0);
  ASSERT_EQ(p.Count("SELECT count(*) FROM core.hourly"), 7 * 24);
  p.Write("tables/core/hourly.yaml", "schedule: hourly\nstrategy: [append\n");
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    auto r = p.Derived(args, now);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(says)) << args[0];
    EXPECT_THAT(r.err, HasSubstr("tables/core/hourly.yaml")) << args[0];
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("unknown"))) << args[0];
  };
  refused({"drop", "core.hourly"}, "core.hourly is still defined in tables/core/hourly.yaml, which does not load");
  refused({"drop", "hourly"}, "fix the file, or delete it to remove the table");
  refused({"backfill", "hourly", "--from", "2024-01-02", "--to", "2024-01-03"},
          "core.hourly cannot be backfilled while it is broken");
  refused({"lineage", "hourly", "--window", "2024-01-02T01:00:00Z"}, "which does not load");
  refused({"update", "hourly", "--once"}, "which does not load");
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.hourly"), 7 * 24);
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.hourly'"), 1);
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.hourly' AND operation IN ('drop', "
                    "'backfill')"),
            0);
}

TEST_P(NamesCliOn, AmbiguousAndUnknownNamesSayWhatToWrite) {
  WarehouseProject p(GetParam());
  WriteProject(p);
  const std::string ambiguous = "'daily' is ambiguous: it names core.daily, mart.daily; write the dataset too";
  ExpectUsage(p.Derived({"show", "daily"}), ambiguous);
  ExpectUsage(p.Derived({"backfill", "daily", "--from", "2024-01-01", "--to", "2024-01-02"}), ambiguous);
  ExpectUsage(p.Derived({"lineage", "daily", "--window", "2024-01-01"}), ambiguous);
  ExpectUsage(p.Derived({"log", "daily"}), ambiguous);
  ExpectUsage(p.Derived({"update", "daily", "--once"}), ambiguous);
  ExpectUsage(p.Derived({"show", "daly"}), "unknown table 'daly' (did you mean 'core.daily' or 'mart.daily'?)");
  ExpectUsage(p.Derived({"show", "core.dialy"}), "unknown table 'core.dialy' (did you mean 'core.daily'?)");
  ExpectUsage(p.Derived({"backfill", "events", "--from", "2024-01-01", "--to", "2024-01-02"}),
              "unknown table 'events' ('raw.events' is a source, not a derived table)");
  ExpectUsage(p.Derived({"source", "mark", "hourly", "--through", "2024-01-02"}),
              "unknown source 'hourly' ('core.hourly' is a derived table, not a source)");
  ExpectUsage(p.Derived({"source", "restate", "evnts", "--from", "2024-01-01", "--to", "2024-01-02"}),
              "unknown source 'evnts' (did you mean 'raw.events'?)");
  ExpectUsage(p.Derived({"drop", "nope"}), "unknown table 'nope'");
  ExpectUsage(p.Derived({"log", "nope"}), "unknown table or source 'nope'");
  EXPECT_EQ(p.Derived({"log", "mart.daily"}).exit_code, 0) << "defined, never run: an empty log";
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 400; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The service resolves the names of the commands it runs, against its own project
// version and warehouse.
// DuckDB-only: commands run in the service only on an embedded warehouse (one writing
// process); on PostgreSQL each command opens the server itself.
TEST(NamesCli, TheServiceResolvesTheCommandsItRuns) {
  WarehouseProject p;
  WriteProject(p);
  Background service({"run", "--watch", "0.2", "--project", p.dir().str()}, {"DERIVED_NOW=2024-01-20T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return service.Output().find("serving") != std::string::npos; }));
  auto r = p.Derived({"source", "mark", "events", "--through", "2024-01-08"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Polled without querying the table itself, which does not exist until the first commit.
  ASSERT_TRUE(Eventually([&] {
    return p.Scalar("SELECT count(*) FROM _derived.state WHERE table_name = 'core.hourly' AND complete_through = "
                    "TIMESTAMP '2024-01-08'") == "1";
  })) << service.Output();
  EXPECT_EQ(p.Scalar("SELECT count(*) FROM core.hourly"), "168");
  r = p.Derived({"backfill", "Hourly", "--from", "2024-01-02", "--to", "2024-01-02T02:00:00Z", "--no-downstream"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = p.Derived({"lineage", "hourly", "--window", "2024-01-02T01:00:00Z"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = p.Derived({"log", "hourly", "--limit", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.hourly"));
  // show runs in the service too, and reads its completeness there.
  r = p.Derived({"show", "hourly", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["complete_through"], "2024-01-08T00:00:00Z");
  ExpectUsage(p.Derived({"log", "daily"}), "'daily' is ambiguous");
  ExpectUsage(p.Derived({"source", "restate", "evnts", "--from", "2024-01-01", "--to", "2024-01-02"}),
              "did you mean 'raw.events'?");
  // A table the service's project no longer defines is dropped by its bare name.
  std::filesystem::remove(p.dir().path() / "tables/core/hourly.yaml");
  ASSERT_TRUE(Eventually([&] { return p.Derived({"show", "hourly"}).exit_code == 2; }));
  ASSERT_TRUE(Eventually([&] {
    return p.Scalar("SELECT count(*) FROM _derived.log WHERE table_name = 'core.hourly' AND operation = 'removed'") ==
           "1";
  })) << service.Output();
  r = p.Derived({"drop", "hourly"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "dropped core.hourly\n");
  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait().exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, NamesCliOn, kBothEngines, EngineName);

}  // namespace
}  // namespace derived::testing
