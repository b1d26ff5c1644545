// `derived run` as a separate process: other commands go through it, it reloads the
// project when files change, and SIGTERM stops it without half-written data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include "engine_testing.h"
#include "service/control.h"
#include "util/strings.h"
#include "warehouse/duckdb/warehouse.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string DailyTable(const std::string& agg) {
  return "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: |\n  SELECT date_trunc('day', "
         "ts) AS day, count(*) AS events, " +
         agg + "(amount) AS amount\n  FROM raw.events\n  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}\n"
               "  GROUP BY 1\n";
}

// Polls `done` for up to ten seconds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A one-value query's answer, through the service when one runs.
std::string Value(const WarehouseProject& p, const std::string& sql) {
  std::string out = p.Derived({"query", sql}).out;
  auto nl = out.find('\n');
  return nl == std::string::npos ? std::string() : std::string(Trim(out.substr(nl + 1)));
}

std::vector<std::string> Args(const WarehouseProject& p, std::vector<std::string> args) {
  args.push_back("--project");
  args.push_back(p.dir().str());
  return args;
}

// A service's arguments. On a shared server, marks that other processes write reach the
// service by its poll (on an embedded warehouse they go through the service itself).
std::vector<std::string> ServiceArgs(const WarehouseProject& p, std::vector<std::string> args) {
  if (p.postgres()) args.insert(args.end(), {"--poll", "0.2"});
  return Args(p, std::move(args));
}

// The tests but those of file sources run on both engines. On an embedded warehouse the
// service is its one writing process, and other commands go through it; a server is
// opened by each command beside the service.
class ServiceCliOn : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(ServiceCliOn, CommandsGoThroughTheRunningServiceWhichReloadsAndStopsCleanly) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/events.yaml", kEventsSource);
  p.Sql(kEventsData);
  p.Write("tables/core/daily.yaml", DailyTable("sum"));
  const std::vector<std::string> env = {"DERIVED_NOW=2024-01-20T00:00:00Z"};
  Background service(ServiceArgs(p, {"run", "--watch", "0.2"}), env);
  auto value = [&](const std::string& sql) { return Value(p, sql); };
  ASSERT_TRUE(Eventually([&] { return service.Output().find("serving every table") != std::string::npos; }))
      << service.Output();
  // An embedded warehouse's one writer announces its control endpoint; beside a server,
  // every command opens the warehouse itself and nothing is announced.
  EXPECT_EQ(std::filesystem::exists(p.dir().path() / ".derived/service.json"), !p.postgres());

  // Marking goes through the service, which builds at once.
  auto r = p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(Eventually([&] { return value("SELECT count(*) AS n FROM core.daily") == "4"; }))
      << service.Output();
  r = p.Derived({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.daily"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("lock")));
  r = p.Derived({"log", "--limit", "3"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("create"));
  EXPECT_EQ(p.Derived({"query", "SELECT 1"}).exit_code, 0);
  // A query file is sent as text, even one that starts like an option.
  p.Write("q.sql", "--no space after the dashes\nSELECT 41 + 1 AS answer");
  r = p.Derived({"query", "--file", (p.dir().path() / "q.sql").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("42"));
  // The endpoint: nothing without the token, and only the commands that need the warehouse.
  if (!p.postgres()) {
    auto info = FindService(std::filesystem::canonical(p.dir().path()).string());
    ASSERT_TRUE(info.has_value());
    ServiceInfo wrong = *info;
    wrong.token = "not-the-token";
    auto refused = SendCommand(wrong, {"status"});
    ASSERT_FALSE(refused.ok());
    EXPECT_THAT(refused.error().message, HasSubstr("missing or wrong token"));
    auto nested = SendCommand(*info, {"run"});
    ASSERT_TRUE(nested.ok()) << nested.error().message;
    EXPECT_EQ(nested->exit_code, 2);
    EXPECT_THAT(nested->err, HasSubstr("runs only commands that need its warehouse"));
    auto latin1 = SendCommand(*info, {"query", "SELECT '\xe9t\xe9'"});
    ASSERT_FALSE(latin1.ok());
    EXPECT_THAT(latin1.error().message, HasSubstr("not UTF-8"));
  }

  if (p.postgres()) {
    // A server takes many writers: a second builder runs beside the service.
    r = p.Derived({"run", "--once"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("lock")));
  } else {
    // One writer: a second builder is refused with the reason, not a lock error.
    r = p.Derived({"run", "--once"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("is running for this project"));
    r = p.Derived({"update", "core.daily"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("`derived update` cannot run beside it"));
  }

  // A file change is noticed and applied: a new description updates metadata only.
  p.Write("tables/core/daily.yaml", "description: Events per day.\n" + DailyTable("sum"));
  EXPECT_TRUE(Eventually([&] {
    return value("SELECT count(*) AS n FROM _derived.log WHERE operation = 'metadata'") == "1";
  })) << service.Output();
  // A broken change is rejected and logged; the service keeps going.
  p.Write("tables/core/daily.yaml", "schedule: daily\nstrategy: append\nsql: SELECT nope FROM raw.events\n");
  EXPECT_TRUE(Eventually([&] {
    return value("SELECT count(*) AS n FROM _derived.log WHERE table_name = '_project' AND status = 'failed'") == "1";
  }));
  r = p.Derived({"source", "mark", "raw.events", "--through", "2024-01-07"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return value("SELECT count(*) AS n FROM core.daily") == "6"; }));
  if (p.postgres()) {
    // Beside the service, commands read the files as they are: the table is broken, and
    // nothing that names it touches it until its file loads again.
    r = p.Derived({"drop", "core.daily"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("which does not load"));
    r = p.Derived({"backfill", "core.daily", "--from", "2024-01-02", "--to", "2024-01-04"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("cannot be backfilled while it is broken"));
    EXPECT_EQ(value("SELECT count(*) AS n FROM core.daily"), "6");
    p.Write("tables/core/daily.yaml", "description: Events per day.\n" + DailyTable("sum"));
  }
  // Repairs, lineage and drop run in the service too (on its last valid version).
  r = p.Derived({"backfill", "core.daily", "--from", "2024-01-02", "--to", "2024-01-04"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto backfilled = [&] {
    return value(
        "SELECT string_agg(substr(CAST(window_start AS VARCHAR), 9, 2) || '-' || substr(CAST(window_end AS "
        "VARCHAR), 9, 2), ',' ORDER BY window_start) AS w FROM _derived.log WHERE table_name = 'core.daily' "
        "AND operation = 'backfill' AND status = 'success'");
  };
  EXPECT_EQ(backfilled(), "02-04");
  r = p.Derived({"source", "restate", "raw.events", "--from", "2024-01-05", "--to", "2024-01-06"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(value("SELECT count(*) AS n FROM _derived.log WHERE table_name = 'raw.events' AND operation = 'restate'"),
            "1");
  EXPECT_EQ(backfilled(), "02-04,05-06");
  r = p.Derived({"lineage", "core.daily", "--window", "2024-01-05"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("raw.events"));
  r = p.Derived({"drop", "core.daily"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("still defined"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("lock")));

  service.Signal(SIGTERM);
  auto stopped = service.Wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_THAT(stopped.out, HasSubstr("stopped"));
  EXPECT_THAT(stopped.err, HasSubstr("reject"));
  EXPECT_FALSE(std::filesystem::exists(p.dir().path() / ".derived/service.json"));

  // Without a service, commands open the warehouse themselves. `plan` tells what a reload does.
  p.Write("tables/core/daily.yaml", DailyTable("max"));
  p.Write("tables/core/weekly.yaml",
          "schedule: weekly\nstrategy: append\nstart: 2024-01-01\ntime_column: week\nsql: SELECT date_trunc('week', "
          "day) AS week, sum(events) AS events FROM core.daily WHERE day >= {{ window_start }} AND day < {{ "
          "window_end }} GROUP BY 1\n");
  r = p.Derived({"plan"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rebuild"));
  EXPECT_THAT(r.out, HasSubstr("6 windows rebuilt into a new version"));
  EXPECT_THAT(r.out, HasSubstr("create"));
  EXPECT_THAT(r.out, HasSubstr("core.weekly"));
  r = p.Derived({"run", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                         "SELECT date_trunc('day', ts), count(*), max(amount) FROM raw.events WHERE ts < '2024-01-07' "
                         "GROUP BY 1"),
            0);
  // The daily table is done; the weekly one still waits for a whole week.
  r = p.Derived({"plan"}, "2024-01-20");
  EXPECT_THAT(r.out, Not(HasSubstr("rebuild")));
  EXPECT_THAT(r.out, HasSubstr("nothing ready yet: waits for core.daily"));
}

TEST_P(ServiceCliOn, SigtermMidBuildLeavesNothingHalfWrittenAndARestartContinues) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/events.yaml", kEventsSource);
  p.Sql(kEventsData);
  // One window per transaction, so there is a long stream of commits to stop in.
  p.Write("tables/core/hourly.yaml",
          "schedule: hourly\nstrategy: append\nstart: 2024-01-01\ntime_column: hour\nbatch: 1\nsql: SELECT "
          "date_trunc('hour', ts) AS hour, count(*) AS events FROM raw.events WHERE ts >= {{ window_start }} AND ts < "
          "{{ window_end }} GROUP BY 1\n");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-30"}).exit_code, 0);
  Background service(Args(p, {"run"}), {"DERIVED_NOW=2024-02-01T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return service.Output().find("serving") != std::string::npos; }));
  // Stopped once it has committed windows (however long it took to start building).
  EXPECT_TRUE(Eventually([&] {
    std::string n = Value(p, "SELECT count(*) AS n FROM _derived.log WHERE table_name = 'core.hourly'");
    return !n.empty() && n != "0";
  })) << service.Output();
  service.Signal(SIGTERM);
  auto stopped = service.Wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  int64_t built = p.Count("SELECT count(*) FROM core.hourly");
  EXPECT_GT(built, 0);
  EXPECT_LT(built, 29 * 24) << "the build finished before the signal: the test proves nothing";
  // What committed is whole: the watermark and the rows agree.
  EXPECT_EQ(p.Scalar("SELECT CAST(complete_through = TIMESTAMP '2024-01-01' + " + std::to_string(built) +
                     " * INTERVAL '1 hour' AS VARCHAR) FROM _derived.state WHERE table_name = 'core.hourly'"),
            "true");
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.hourly",
                         "SELECT date_trunc('hour', ts), count(*) FROM raw.events WHERE ts < '2024-01-30' GROUP BY 1"),
            0);
}

TEST_P(ServiceCliOn, UpdateRunsOneTablesUpdaterAndRefusesASecondWriterClearly) {
  WarehouseProject p(GetParam());
  p.Write("sources/raw/events.yaml", kEventsSource);
  p.Sql(kEventsData);
  p.Write("tables/core/daily.yaml", DailyTable("sum"));
  p.Write("tables/core/weekly.yaml",
          "schedule: weekly\nstrategy: append\nstart: 2024-01-01\ntime_column: week\nsql: SELECT date_trunc('week', "
          "day) AS week, sum(events) AS events FROM core.daily WHERE day >= {{ window_start }} AND day < {{ "
          "window_end }} GROUP BY 1\n");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);

  // Only the named table moves: weekly waits for daily, which its own updater builds.
  auto r = p.Derived({"update", "core.weekly", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.weekly"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.weekly' AND complete_through IS NOT "
                    "NULL"),
            0);
  r = p.Derived({"update", "core.daily", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(p.Difference("SELECT * FROM core.daily",
                         "SELECT date_trunc('day', ts), count(*), sum(amount) FROM raw.events WHERE ts < '2024-01-15' "
                         "GROUP BY 1"),
            0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.weekly'"), 0);
  r = p.Derived({"update", "core.weekly", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Two whole ISO weeks (Jan 1 and Jan 8) are complete in the daily table.
  EXPECT_EQ(p.Difference("SELECT * FROM core.weekly",
                         "SELECT date_trunc('week', ts), count(*) FROM raw.events WHERE ts < '2024-01-15' GROUP BY 1"),
            0);
  r = p.Derived({"update", "core.nope", "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown table 'core.nope'"));

  // A long-running updater holds the embedded warehouse: a second one is refused with the
  // reason, and the first keeps its data whole. A server takes both.
  Background first(Args(p, {"update", "core.daily", "--poll", "0.2"}), {"DERIVED_NOW=2024-01-20T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return first.Output().find("core.daily") != std::string::npos; }));
  r = p.Derived({"update", "core.weekly", "--once"}, "2024-01-20");
  if (p.postgres()) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("one writing process"));
    EXPECT_THAT(r.err, HasSubstr("cannot"));
  }
  first.Signal(SIGTERM);
  auto stopped = first.Wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 14);
}

// Files landed while the service runs flow through. Completeness comes from marks sent
// to the service, or from a freshness query over the files that the service polls.
// DuckDB-only: file sources (`location:`).
void FilesLandedWhileTheServiceRunsFlowThrough(bool marker) {
  WarehouseProject p;
  // The landing job writes whole days, so the day of the newest row is complete.
  std::string freshness =
      marker ? "marker" : "{query: \"SELECT date_trunc('day', max(ts)) + INTERVAL 1 DAY FROM raw.events\"}";
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: " + freshness +
                                         "\nlocation: landing/events/*.parquet\ncolumns:\n  - {name: ts, type: "
                                         "TIMESTAMP}\n  - {name: amount, type: DOUBLE}\n");
  p.Write("tables/core/daily.yaml", DailyTable("sum"));
  Background service(Args(p, {"run", "--poll", "0.2"}), {"DERIVED_NOW=2024-01-20T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(p.dir().path() / ".derived/service.json"); }));
  // An ingestion job lands one file per day with its own DuckDB, not the warehouse's.
  auto lander = OpenDuckDbWarehouse(":memory:", db::FileAccess::Unrestricted());
  ASSERT_TRUE(lander.ok());
  const auto landing = p.dir().path() / "landing/events";
  std::filesystem::create_directories(landing);
  // Each file is written beside the glob and renamed into it, as a landing job should:
  // the service may read the glob at any moment, and a half-written file would fail
  // that read.
  auto land = [&](const std::string& day, const std::string& next_day) {
    const auto partial = landing.parent_path() / (day + ".parquet.partial");
    auto st = (*lander)->Execute("COPY (SELECT TIMESTAMP '" + day +
                                 "' + INTERVAL (i * 20) MINUTE AS ts, (i % 13) * 1.5 AS amount FROM range(72) t(i)) "
                                 "TO '" + partial.string() + "' (FORMAT parquet)");
    ASSERT_TRUE(st.ok()) << st.error().message;
    std::filesystem::rename(partial, landing / (day + ".parquet"));
    if (marker) {
      auto r = p.Derived({"source", "mark", "raw.events", "--through", next_day});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  };
  land("2024-01-01", "2024-01-02");
  land("2024-01-02", "2024-01-03");
  EXPECT_TRUE(Eventually([&] { return Value(p, "SELECT count(*) AS n FROM core.daily") == "2"; }))
      << service.Output();
  land("2024-01-03", "2024-01-04");
  EXPECT_TRUE(Eventually([&] { return Value(p, "SELECT count(*) AS n FROM core.daily") == "3"; }))
      << service.Output();
  const std::string expected = "SELECT date_trunc('day', ts), count(*), sum(amount) FROM read_parquet('" +
                               (landing / "*.parquet").string() + "') GROUP BY 1";
  EXPECT_EQ(Value(p, DifferenceSql("FROM core.daily", expected)), "0");
  // Nothing was tried before its files were there (a mark never hides a missing file).
  EXPECT_EQ(Value(p, "SELECT count(*) AS n FROM _derived.log WHERE status <> 'success'"), "0")
      << Value(p, "SELECT string_agg(table_name || ' ' || operation || ': ' || coalesce(error, ''), '; ') AS n FROM "
                  "_derived.log WHERE status <> 'success'");
  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait().exit_code, 0);
}

TEST(ServiceCli, FilesLandedWhileTheServiceRunsFlowThroughWithMarks) { FilesLandedWhileTheServiceRunsFlowThrough(true); }

TEST(ServiceCli, FilesLandedWhileTheServiceRunsFlowThroughByTheirFreshnessQuery) {
  FilesLandedWhileTheServiceRunsFlowThrough(false);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ServiceCliOn, kBothEngines, EngineName);

}  // namespace
}  // namespace derived::testing
