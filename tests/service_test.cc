// The long-running service, in process, with a fixed clock the test moves through days of
// hourly arrivals. Expected contents come from plain SQL over the raw data; the order of
// builds comes from the metadata log's wall-clock times.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cli/app.h"
#include "engine_testing.h"
#include "service/service.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::WarehouseProject;

Timestamp T(const std::string& text) { return *ParseTimestamp(text); }

const char* kHourly = R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
sql: |
  SELECT date_trunc('hour', ts) AS hour, count(*) AS events, sum(amount) AS amount
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)";

const char* kDaily = R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', hour) AS day, sum(events) AS events, sum(amount) AS amount
  FROM core.hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }}
  GROUP BY 1
)";

const char* kWeekly = R"(schedule: weekly
strategy: append
start: 2024-01-01
time_column: week
sql: |
  SELECT date_trunc('week', day) AS week, sum(events) AS events
  FROM core.daily
  WHERE day >= {{ window_start }} AND day < {{ window_end }}
  GROUP BY 1
)";

const char* kMonthly = R"(schedule: monthly
strategy: replace
sql: |
  SELECT date_trunc('month', day) AS month, sum(events) AS events
  FROM core.daily
  GROUP BY 1
)";

const char* kClicksDaily = R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS clicks
  FROM raw.clicks
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)";

// Expected contents, from the raw data alone.
std::string HourlyExpected(const std::string& through, const std::string& agg = "sum") {
  return "SELECT date_trunc('hour', ts) AS hour, count(*) AS events, " + agg +
         "(amount) AS amount FROM raw.events WHERE ts < '" + through + "' GROUP BY 1";
}
std::string DailyExpected(const std::string& through, const std::string& agg = "sum") {
  return "SELECT date_trunc('day', hour), sum(events), sum(amount) FROM (" + HourlyExpected(through, agg) +
         ") AS h GROUP BY 1";
}

// Every test runs on both engines.
class ServiceTest : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  void SetUp() override {
    p_.Write("sources/raw/events.yaml",
             "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n"
             "  - {name: amount, type: FLOAT8}\n");
    p_.Write("sources/raw/clicks.yaml",
             "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n");
    p_.Sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '20 minutes' AS "
        "ts, CAST((i % 13) * 1.5 AS FLOAT8) AS amount FROM generate_series(0, 40 * 24 * 3 - 1) t(i); CREATE TABLE "
        "raw.clicks AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '30 minutes' AS ts FROM generate_series(0, 40 * "
        "24 * 2 - 1) t(i)");
    p_.Write("tables/core/hourly.yaml", kHourly);
    p_.Write("tables/core/daily.yaml", kDaily);
    p_.Write("tables/core/weekly.yaml", kWeekly);
    p_.Write("tables/core/monthly.yaml", kMonthly);
    p_.Write("tables/core/clicks_daily.yaml", kClicksDaily);
  }

  void Start(double retry_base = 5, bool reset_clock = true) {
    if (reset_clock) clock_.Set(T("2024-01-01T00:00:00Z"));
    ServiceOptions o;
    o.project_dir = p_.dir().str();
    o.clock = &clock_;
    o.monotonic = &steady_;
    o.tick_seconds = 0;  // time moves only when the test says
    o.watch_seconds = 0;
    o.poll_seconds = 1e9;
    o.retry_base_seconds = retry_base;
    o.retry_cap_seconds = retry_base * 4;
    o.watch_branch = branch_;
    o.owner = "a";
    o.lease_seconds = lease_seconds_;
    o.select = select_;
    last_options_ = o;
    auto svc = Service::Start(o);
    ASSERT_TRUE(svc.ok()) << svc.error().message;
    svc_ = std::move(*svc);
    auto session = svc_->Connect();
    ASSERT_TRUE(session.ok());
    wh_ = std::move(*session);
  }

  void TearDown() override {
    wh_.reset();
    svc_.reset();
  }

  // Moves the clock to `t` plus five minutes, with events complete through `t` and
  // clicks six hours behind, and lets every woken updater finish.
  void Arrive(Timestamp t) {
    clock_.Set(Timestamp{t.seconds + 5 * 60});
    ASSERT_TRUE(svc_->MarkSource("raw.events", t).ok());
    ASSERT_TRUE(svc_->MarkSource("raw.clicks", Timestamp{t.seconds - 6 * 3600}).ok());
    svc_->Tick(false);
    svc_->WaitIdle();
  }
  void ArriveHourly(Timestamp from, Timestamp to) {
    for (Timestamp t = NextBoundary(from, Schedule::kHourly); !(to < t); t = NextBoundary(t, Schedule::kHourly)) {
      Arrive(t);
    }
  }

  std::string Scalar(const std::string& sql) {
    auto rows = wh_->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << ": " << (rows.ok() ? "" : rows.error().message);
    if (!rows.ok() || rows->size() == 0) return "";
    return rows->at(0, 0).value_or("NULL");
  }
  int64_t Count(const std::string& sql) { return std::stoll(Scalar(sql)); }
  // Waits, up to 20 s, for `svc` to have made `table` complete through `through`: for
  // another process's commit or mark, whose notice arrives when it arrives.
  bool EventuallyCompleteThrough(Service& svc, const std::string& table, const std::string& through) {
    for (int i = 0; i < 400; ++i) {
      svc.WaitIdle();
      if (Scalar("SELECT count(*) FROM _derived.state WHERE table_name = '" + table +
                 "' AND complete_through = TIMESTAMP '" + through + "'") == "1") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  int64_t Difference(const std::string& actual, const std::string& expected) {
    return Count(testing::DifferenceSql(actual, expected));
  }
  // Successful log rows of a table whose windows overlap another's: a window built twice.
  int64_t Overlaps(const std::string& table) {
    return Count(
        "SELECT count(*) FROM _derived.log a JOIN _derived.log b ON a.table_name = b.table_name AND (a.started_at < "
        "b.started_at OR (a.started_at = b.started_at AND a.window_start < b.window_start)) "
        "AND a.window_start < b.window_end AND b.window_start < a.window_end WHERE a.table_name = '" + table +
        "' AND a.status = 'success' AND b.status = 'success' AND a.operation IN ('create', 'append') AND "
        "b.operation IN ('create', 'append')");
  }
  // Windows of `table` started before `upstream` had committed through their end.
  int64_t BuiltBeforeInput(const std::string& table, const std::string& upstream) {
    return Count(
        "SELECT count(*) FROM _derived.log r WHERE r.table_name = '" + table + "' AND r.status = 'success' AND "
        "r.window_end IS NOT NULL AND NOT EXISTS (SELECT 1 FROM _derived.log u WHERE u.table_name = '" + upstream +
        "' AND u.status = 'success' AND u.window_end >= r.window_end AND u.finished_at <= r.started_at)");
  }

  WarehouseProject p_{GetParam()};
  std::string branch_;
  double lease_seconds_ = 30;
  std::string select_;  // the tables the service serves (empty: all)
  ServiceOptions last_options_;  // what Start started the service with
  FixedClock clock_;
  ManualMonotonicClock steady_;  // retries and backoff: moved by the test, never slept for
  std::unique_ptr<Service> svc_;
  std::unique_ptr<Warehouse> wh_;
};

TEST_P(ServiceTest, AdvancesThroughDaysBuildingEachWindowOnceAfterItsInputs) {
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-10T00:00:00Z"));  // nine days, hour by hour
  for (Timestamp day = T("2024-01-11T00:00:00Z"); !(T("2024-02-03T00:00:00Z") < day);
       day = NextBoundary(day, Schedule::kDaily)) {
    Arrive(day);  // then a day at a time
  }

  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-02-03")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-02-03")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.weekly",
                       "SELECT date_trunc('week', ts), count(*) FROM raw.events WHERE ts < '2024-01-29' GROUP BY 1"),
            0);
  EXPECT_EQ(Difference("SELECT * FROM core.monthly",
                       "SELECT date_trunc('month', ts), count(*) FROM raw.events WHERE ts < '2024-02-01' GROUP BY 1"),
            0);
  EXPECT_EQ(Difference("SELECT * FROM core.clicks_daily",
                       "SELECT date_trunc('day', ts), count(*) FROM raw.clicks WHERE ts < '2024-02-02' GROUP BY 1"),
            0);

  // Each window exactly once.
  for (const char* t : {"core.hourly", "core.daily", "core.weekly", "core.clicks_daily"}) {
    EXPECT_EQ(Overlaps(t), 0) << t;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.hourly' AND operation = 'append' AND "
                  "window_end <= '2024-01-10'"),
            9 * 24 - 1);  // the first hour created the table
  // Only after its inputs: every window started after its upstream committed through its end...
  EXPECT_EQ(BuiltBeforeInput("core.daily", "core.hourly"), 0);
  EXPECT_EQ(BuiltBeforeInput("core.weekly", "core.daily"), 0);
  EXPECT_EQ(BuiltBeforeInput("core.monthly", "core.daily"), 0);
  // ... and never before the source said so: clicks arrive six hours late.
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_daily' AND status = 'success' "
                  "AND logical_now < window_end + INTERVAL '6 hours'"),
            0);
  // As soon as the inputs are there: while time moves hour by hour, every window of the
  // chain is built at the tick its last input arrived.
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name IN ('core.hourly', 'core.daily', "
                  "'core.weekly') AND status = 'success' AND window_end <= '2024-01-10' AND logical_now <> window_end "
                  "+ INTERVAL '5 minutes'"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE status <> 'success'"), 0);
}

TEST_P(ServiceTest, ReloadsChangedRemovedAndBrokenDefinitionsAndRepairsRestatedSources) {
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-09T00:00:00Z"));
  ASSERT_EQ(Count("SELECT count(*) FROM core.weekly"), 1);

  // A changed definition: the table is rebuilt, then everything downstream that read it.
  std::string hourly = kHourly;
  hourly.replace(hourly.find("sum(amount)"), 11, "max(amount)");
  p_.Write("tables/core/hourly.yaml", hourly);
  // `derived plan`, run in the service, tells what the reload will do.
  {
    std::ostringstream out, err;
    ASSERT_EQ(cli::RunCli({"plan", "--project", p_.dir().str()}, out, err, svc_.get()), 0) << err.str();
    EXPECT_THAT(out.str(), HasSubstr("rebuild  core.hourly"));
    EXPECT_THAT(out.str(), HasSubstr("repair   core.daily"));
  }
  auto reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_THAT(*reloaded, HasSubstr("rebuild core.hourly"));
  EXPECT_THAT(*reloaded, HasSubstr("repair core.daily: upstream core.hourly is rebuilt"));
  svc_->WaitIdle();
  ArriveHourly(T("2024-01-09T00:00:00Z"), T("2024-01-10T00:00:00Z"));
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-10", "max")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-10", "max")), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE operation = 'rebuild' AND table_name IN ('core.hourly', "
                  "'core.daily', 'core.weekly', 'core.monthly')"),
            3);  // monthly had nothing built yet
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = '_project' AND operation = 'reload' AND "
                  "status = 'success'"),
            1);

  // A broken change is rejected as a whole; the last valid version keeps running.
  std::string daily = kDaily;
  daily.replace(daily.find("sum(events)"), 11, "sum(no_such_column)");
  p_.Write("tables/core/daily.yaml", daily);
  auto rejected = svc_->Reload();
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(rejected.error().message, HasSubstr("tables/core/daily.yaml"));
  EXPECT_THAT(rejected.error().message, HasSubstr("no_such_column"));
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = '_project' AND status = 'failed' AND error "
                  "LIKE '%rejected%no_such_column%'"),
            1);
  ArriveHourly(T("2024-01-10T00:00:00Z"), T("2024-01-11T00:00:00Z"));
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-11", "max")), 0);

  // A removed table stops updating and keeps its data until dropped.
  p_.Write("tables/core/daily.yaml", kDaily);
  std::filesystem::remove(p_.dir().path() / "tables/core/weekly.yaml");
  reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_THAT(*reloaded, HasSubstr("removed core.weekly"));
  ArriveHourly(T("2024-01-11T00:00:00Z"), T("2024-01-16T00:00:00Z"));
  EXPECT_EQ(Count("SELECT count(*) FROM core.weekly"), 1);  // the week of Jan 8 would be there by now
  {
    auto engine = svc_->OpenEngine();
    ASSERT_TRUE(engine.ok());
    auto status = (*engine)->Status();
    ASSERT_TRUE(status.ok());
    bool listed = false;
    for (const auto& s : *status) listed |= s.table == "core.weekly" && s.last_status == "removed";
    EXPECT_TRUE(listed);
    EXPECT_TRUE(svc_->Exclusive([&] { EXPECT_TRUE((*engine)->Drop("core.weekly").ok()); }).ok());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'weekly'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.weekly' AND operation = 'drop'"), 1);

  // A restated source: its corrected rows flow through every window that read them.
  ASSERT_TRUE(wh_->Execute("UPDATE raw.events SET amount = amount + 100 WHERE ts >= '2024-01-12 03:00' AND ts < "
                           "'2024-01-12 05:00'")
                  .ok());
  auto restated = svc_->Exclusive([&] {
    auto engine = svc_->OpenEngine();
    ASSERT_TRUE(engine.ok());
    auto report = (*engine)->Restate("raw.events", T("2024-01-12T03:00:00Z"), T("2024-01-12T05:00:00Z"), nullptr);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->failures(), 0);
  });
  EXPECT_TRUE(restated.ok());
  svc_->WaitIdle();
  // Equal to a clean build of the final definitions: hourly takes max, daily sums it.
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-16", "max")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-16", "max")), 0);
}

TEST_P(ServiceTest, FailingTableRetriesWithBackoffBlocksOnlyItsReadersAndClearsWhenFixed) {
  p_.Write("tables/core/bad.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
columns:
  - {name: hour, type: TIMESTAMP}
  - {name: n, type: INTEGER}
sql: |
  SELECT date_trunc('hour', ts) AS hour, CAST('x' || count(*) AS INTEGER) AS n
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)");
  p_.Write("tables/core/bad_reader.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
sql: SELECT hour, n FROM core.bad WHERE hour >= {{ window_start }} AND hour < {{ window_end }}
)");
  Start(/*retry_base=*/5);
  Arrive(T("2024-01-01T03:00:00Z"));
  auto updaters = svc_->Updaters();
  EXPECT_EQ(updaters["core.bad"].failures, 1);
  EXPECT_GE(updaters["core.bad"].retry_in_seconds, 0);
  // Woken again before its retry is due, it waits its turn.
  EXPECT_TRUE(svc_->MarkSource("raw.events", T("2024-01-01T04:00:00Z")).ok());
  svc_->WaitIdle();
  EXPECT_EQ(svc_->Updaters()["core.bad"].failures, 1);
  // Just before the retry is due (5 s), a tick leaves it; at 5 s it runs, then waits 10 s.
  steady_.Advance(std::chrono::milliseconds(4900));
  svc_->Tick(false);
  svc_->WaitIdle();
  EXPECT_EQ(svc_->Updaters()["core.bad"].failures, 1);
  steady_.Advance(std::chrono::milliseconds(100));
  svc_->Tick(false);
  svc_->WaitIdle();
  EXPECT_EQ(svc_->Updaters()["core.bad"].failures, 2);
  EXPECT_DOUBLE_EQ(svc_->Updaters()["core.bad"].retry_in_seconds, 10);
  steady_.Advance(std::chrono::seconds(10));
  svc_->Tick(false);
  svc_->WaitIdle();
  EXPECT_EQ(svc_->Updaters()["core.bad"].failures, 3);
  EXPECT_DOUBLE_EQ(svc_->Updaters()["core.bad"].retry_in_seconds, 20);  // the cap: 4 x the base
  {
    auto engine = svc_->OpenEngine();
    ASSERT_TRUE(engine.ok());
    auto status = (*engine)->Status();
    ASSERT_TRUE(status.ok());
    for (const auto& s : *status) {
      if (s.table == "core.bad") {
        EXPECT_TRUE(s.failing);
        EXPECT_THAT(s.last_error, HasSubstr(p_.postgres() ? "invalid input syntax for type integer"
                                                           : "Could not convert string"));
      }
    }
  }
  // A restart retries it at once, and its backoff carries on from the failures recorded
  // in the warehouse instead of starting over (base 5 s, cap 20 s: fresh would be 5 s).
  const int64_t recorded = Count("SELECT consecutive_failures FROM _derived.state WHERE table_name = 'core.bad'");
  wh_.reset();
  svc_.reset();
  Start(/*retry_base=*/5, /*reset_clock=*/false);
  svc_->WaitIdle();
  updaters = svc_->Updaters();
  EXPECT_EQ(updaters["core.bad"].failures, recorded + 1);
  EXPECT_GT(updaters["core.bad"].retry_in_seconds, 10);
  // Everything that does not read it went on.
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-01 03:00")), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'bad_reader'"), 0);

  // Fixing the definition clears it at once.
  p_.Write("tables/core/bad.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
time_column: hour
columns:
  - {name: hour, type: TIMESTAMP}
  - {name: n, type: INTEGER}
sql: |
  SELECT date_trunc('hour', ts) AS hour, CAST(count(*) AS INTEGER) AS n
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)");
  ASSERT_TRUE(svc_->Reload().ok());
  svc_->WaitIdle();
  EXPECT_EQ(svc_->Updaters()["core.bad"].failures, 0);
  EXPECT_EQ(Difference("SELECT * FROM core.bad_reader",
                       "SELECT date_trunc('hour', ts), count(*) FROM raw.events WHERE ts < '2024-01-01 03:00' GROUP "
                       "BY 1"),
            0);
  EXPECT_EQ(Scalar("SELECT consecutive_failures FROM _derived.state WHERE table_name = 'core.bad'"), "0");
}

TEST_P(ServiceTest, DropsARemovedTableWhenItsRetentionEnds) {
  p_.Configure("removed_tables: {keep_for: 2 days}\n");
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-03T00:00:00Z"));
  ASSERT_GT(Count("SELECT count(*) FROM core.clicks_daily"), 0);
  std::filesystem::remove(p_.dir().path() / "tables/core/clicks_daily.yaml");
  auto reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_EQ(Scalar("SELECT config->>'removed_at' FROM _derived.state WHERE table_name = 'core.clicks_daily'"),
            "2024-01-03T00:05:00Z");
  // The timer's sweeps keep it until two days have passed, then drop it.
  ArriveHourly(T("2024-01-03T00:00:00Z"), T("2024-01-04T23:00:00Z"));
  svc_->Tick(true);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clicks_daily'"), 1);
  Arrive(T("2024-01-05T01:00:00Z"));
  svc_->Tick(true);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clicks_daily'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_daily' AND operation = 'drop'"),
            1);
  // The rest carries on.
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-05")), 0);
}

// Finding 4 of the hardening issue: a service started on a table file with a YAML typo
// took the table for removed and dropped it when its retention ended.
TEST_P(ServiceTest, AYamlTypoInAnExistingTableNeverDropsIt) {
  p_.Configure("removed_tables: {keep_for: 1 day}\n");
  p_.Write("tables/core/clicks_weekly.yaml",
           "schedule: daily\nsql: SELECT count(*) AS days, sum(clicks) AS clicks FROM core.clicks_daily\n");
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-02T12:00:00Z"));
  const std::string before = Scalar("SELECT count(*) || ':' || sum(clicks) FROM core.clicks_daily");
  ASSERT_EQ(before, "1:48");
  const char* kWeeklyBuilds =
      "SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_weekly' AND status = 'success'";
  const int64_t weekly_builds = Count(kWeeklyBuilds);
  wh_.reset();
  svc_.reset();
  // A tab where YAML wants spaces: the file no longer loads.
  p_.Write("tables/core/clicks_daily.yaml", ReplaceAll(kClicksDaily, "strategy: append", "\tstrategy: append"));
  Start(5, /*reset_clock=*/false);
  ArriveHourly(T("2024-01-02T12:00:00Z"), T("2024-01-05T00:00:00Z"));
  svc_->Tick(true);
  EXPECT_EQ(Scalar("SELECT count(*) || ':' || sum(clicks) FROM core.clicks_daily"), before);  // kept, not updated
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_daily' AND operation IN "
                  "('removed', 'drop')"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.clicks_daily' AND "
                  "(config->>'removed_at') IS NOT NULL"),
            0);
  EXPECT_THAT(Scalar("SELECT last_error FROM _derived.state WHERE table_name = 'core.clicks_daily'"),
              HasSubstr("tables/core/clicks_daily.yaml does not load"));
  // Its reader waits rather than reading a table that no longer moves.
  EXPECT_EQ(Count(kWeeklyBuilds), weekly_builds);
  // Fixed, it catches up from where it was.
  p_.Write("tables/core/clicks_daily.yaml", kClicksDaily);
  auto reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  Arrive(T("2024-01-05T01:00:00Z"));
  EXPECT_EQ(Scalar("SELECT count(*) || ':' || sum(clicks) FROM core.clicks_daily"),
            Scalar("SELECT count(DISTINCT date_trunc('day', ts)) || ':' || count(*) FROM raw.clicks WHERE ts < "
                   "'2024-01-04'"));  // clicks are marked six hours behind
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_daily' AND operation = 'create'"),
            1);
}

TEST_P(ServiceTest, ABrokenTableIsLoggedOnceWhateverWorkerWakesItAndCommandsStopWithTheService) {
  p_.Write("tables/core/broken.yaml",
           "schedule: hourly\nstrategy: append\nstart: 2024-01-01\ntime_column: hour\nsql: SELECT hour, nope FROM "
           "core.hourly WHERE hour >= {{ window_start }} AND hour < {{ window_end }}\n");
  Start();
  ASSERT_GE(svc_->options().workers, 2);
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-01T12:00:00Z"));
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.broken' AND operation = 'validate'"), 1);
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-01 12:00")), 0);
  // Once stopping, a command that would change the warehouse is refused, not started.
  svc_->RequestStop();
  bool ran = false;
  auto refused = svc_->Exclusive([&] { ran = true; });
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(ran);
}

TEST_P(ServiceTest, InterruptReachesACommandRunningInTheService) {
  Start();
  std::ostringstream out, err;
  std::atomic<int> code{-1};
  std::thread command([&] {
    code = cli::RunCli({"query",
                        p_.postgres() ? "SELECT pg_sleep(600)"
                                      : "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3",
                        "--project", p_.dir().str()},
                       out, err, svc_.get());
  });
  // Until the statement notices (an interrupt before it starts has nothing to cancel).
  while (code == -1) {
    svc_->Interrupt();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  command.join();
  EXPECT_EQ(code, 1);
  EXPECT_THAT(err.str(), HasSubstr(p_.postgres() ? "canceling statement due to user request" : "Interrupt"));
}

TEST_P(ServiceTest, ABackfillInTheServiceRepairsDownstreamUnlessToldNot) {
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-04T00:00:00Z"));
  auto backfill = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"backfill", "core.hourly", "--from", "2024-01-02T03:00:00Z", "--to",
                                     "2024-01-02T05:00:00Z", "--project", p_.dir().str()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream out, err;
    EXPECT_EQ(cli::RunCli(args, out, err, svc_.get()), 0) << err.str();
    svc_->WaitIdle();
  };
  auto correct = [&] {
    ASSERT_TRUE(wh_->Execute("UPDATE raw.events SET amount = amount + 100 WHERE ts >= '2024-01-02 03:00' AND ts < "
                             "'2024-01-02 05:00'")
                    .ok());
  };
  // No flag: the readers of the backfilled windows are recomputed too.
  correct();
  backfill({});
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-04")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-04")), 0);
  // --no-downstream: only the table itself.
  correct();
  backfill({"--no-downstream"});
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-04")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-04")), 1);  // Jan 2 still has the old sum
}

TEST_P(ServiceTest, FollowsCommitsOnABranchNotTheWorkingTree) {
  p_.Write(".gitignore", "*.duckdb*\n.derived/\n");
  auto git = [&](const std::string& args) {
    std::string cmd = "cd " + p_.dir().str() + " && git -c user.email=t@example.com -c user.name=t " + args +
                      " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  };
  ASSERT_EQ(git("init -q -b main"), 0);
  ASSERT_EQ(git("add -A"), 0);
  ASSERT_EQ(git("commit -qm first"), 0);
  branch_ = "main";
  Start();
  Arrive(T("2024-01-02T00:00:00Z"));
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-02")), 0);

  // An edit in the working tree is not on the branch: nothing changes.
  std::string hourly = kHourly;
  hourly.replace(hourly.find("sum(amount)"), 11, "max(amount)");
  p_.Write("tables/core/hourly.yaml", hourly);
  // `derived plan` in the service shows what a reload of the branch would do.
  auto plan = [&] {
    std::ostringstream out, err;
    int code = cli::RunCli({"plan", "--project", p_.dir().str()}, out, err, svc_.get());
    EXPECT_EQ(code, 0) << err.str();
    return out.str();
  };
  EXPECT_THAT(plan(), Not(HasSubstr("core.hourly")));
  auto reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_THAT(*reloaded, Not(HasSubstr("core.hourly")));
  // Committed, it is.
  ASSERT_EQ(git("commit -qam max"), 0);
  std::string planned = plan();
  EXPECT_THAT(planned, HasSubstr("core.hourly"));
  EXPECT_THAT(planned, HasSubstr("rebuild"));
  reloaded = svc_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_THAT(*reloaded, HasSubstr("rebuild core.hourly"));
  // Only the version in use stays checked out.
  int checkouts = 0;
  for (const auto& e : std::filesystem::directory_iterator(p_.dir().path() / ".derived/checkouts")) {
    (void)e;
    ++checkouts;
  }
  EXPECT_EQ(checkouts, 1);
  svc_->WaitIdle();
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-02", "max")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-02", "max")), 0);
}

INSTANTIATE_TEST_SUITE_P(BothEngines, ServiceTest, testing::kBothEngines, testing::EngineName);

// On a shared server other processes commit too: their commits wake this service's
// readers at once (a notice at commit), not at the next schedule boundary or poll.
class SharedServiceTest : public ServiceTest {};

TEST_P(SharedServiceTest, ACommitByAnotherProcessWakesTheReadersHere) {
  select_ = "core.daily";  // core.hourly is another process's
  Start();
  EXPECT_EQ(svc_->Served(), std::vector<std::string>{"core.daily"});
  // The service's clock moves on, but no timer runs (tick 0) and no poll is due: only a
  // commit can wake anything.
  clock_.Set(T("2024-01-03T00:05:00Z"));
  auto r = p_.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = p_.Derived({"run", "--once", "--select", "core.hourly"}, "2024-01-03T00:05:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(Count("SELECT count(*) FROM core.hourly"), 48);
  // core.daily reads core.hourly: the service builds its two days.
  ASSERT_TRUE(EventuallyCompleteThrough(*svc_, "core.daily", "2024-01-03"));
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-03")), 0);
  // What the service did not read is left alone: clicks were never marked here.
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.clicks_daily' AND data_version > 0"),
            0);
}

// Two services on one project: each table has one updater, the one holding its lease;
// a service that stops hands its tables over at once, and the other goes on from there.
TEST_P(SharedServiceTest, EachTableHasOneUpdaterAndAStoppedServiceHandsItsTablesOver) {
  lease_seconds_ = 0.6;  // the standby looks for free leases every 0.2 s
  Start();
  ServiceOptions b = last_options_;
  b.owner = "b";
  auto standby = Service::Start(b);
  ASSERT_TRUE(standby.ok()) << standby.error().message;
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-02T00:00:00Z"));
  (*standby)->WaitIdle();
  EXPECT_EQ(Scalar("SELECT string_agg(DISTINCT owner, ',') FROM _derived.leases WHERE table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'"), "a");
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.leases WHERE table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'"), 5);
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-02")), 0);
  svc_.reset();  // stops, releasing its leases
  bool taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {  // the standby's next look, within 0.2 s
    taken = Scalar("SELECT count(*) FROM _derived.leases WHERE owner = 'b' AND table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'") == "5";
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(taken);
  clock_.Set(T("2024-01-03T00:05:00Z"));
  ASSERT_TRUE((*standby)->MarkSource("raw.events", T("2024-01-03T00:00:00Z")).ok());
  (*standby)->Tick(false);
  (*standby)->WaitIdle();
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-03")), 0);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-03")), 0);
  for (const char* t : {"core.hourly", "core.daily"}) EXPECT_EQ(Overlaps(t), 0) << t;
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE status <> 'success'"), 0);
  standby->reset();
}

// A deploy: a process on a new version of the project starts beside one on the old. The
// fleet agrees on the new one; the old process leaves the changed table alone (no turn
// taking between the two definitions), keeps the unchanged ones, and, started again later
// on the old files, follows the fleet instead of taking it back.
TEST_P(SharedServiceTest, TheFleetAgreesOnTheNewestVersionAndAnOldProcessNeverBuildsWhatItChanged) {
  lease_seconds_ = 0.6;
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-02T00:00:00Z"));
  ASSERT_EQ(Difference("SELECT * FROM core.daily", DailyExpected("2024-01-02")), 0);
  EXPECT_EQ(Scalar("SELECT max(sequence) || ':' || max(proposed_by) FROM _derived.project_versions"), "1:a");

  // Version 2 changes core.daily only, in a checkout of its own.
  testing::TempDir v2;
  for (const auto& e : std::filesystem::recursive_directory_iterator(p_.dir().path())) {
    auto rel = std::filesystem::relative(e.path(), p_.dir().path());
    if (rel.begin()->string() == ".derived" || !e.is_regular_file()) continue;
    v2.Write(rel.string(), p_.dir().Read(rel.string()));
  }
  std::string daily2 = kDaily;
  daily2.replace(daily2.find("sum(amount)"), 11, "max(amount)");
  v2.Write("tables/core/daily.yaml", daily2);
  const std::string daily2_expected =
      "SELECT date_trunc('day', hour), sum(events), max(amount) FROM (" + HourlyExpected("2024-01-03") + ") h GROUP BY 1";
  ServiceOptions b = last_options_;
  b.owner = "b";
  b.project_dir = v2.str();
  auto standby = Service::Start(b);
  ASSERT_TRUE(standby.ok()) << standby.error().message;
  EXPECT_EQ(Scalar("SELECT max(sequence) || ':' || max(proposed_by) FILTER (WHERE sequence = 2) FROM "
                   "_derived.project_versions"),
            "2:b");
  const std::string v1_hash = Scalar("SELECT hashes ->> 'core.daily' FROM _derived.project_versions WHERE sequence = 1");
  const std::string v2_hash = Scalar("SELECT hashes ->> 'core.daily' FROM _derived.project_versions WHERE sequence = 2");
  ASSERT_NE(v1_hash, v2_hash);
  EXPECT_EQ(Scalar("SELECT hashes ->> 'core.hourly' FROM _derived.project_versions WHERE sequence = 1"),
            Scalar("SELECT hashes ->> 'core.hourly' FROM _derived.project_versions WHERE sequence = 2"));

  // The old process learns of it (its poll; a notice would do too) and builds only what
  // both versions define alike.
  svc_->Tick(true);
  Arrive(T("2024-01-03T00:00:00Z"));
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-03")), 0);
  EXPECT_EQ(Scalar("SELECT definition_hash || ' ' || CAST(complete_through AS VARCHAR) FROM _derived.state WHERE "
                   "table_name = 'core.daily'"),
            v1_hash + " 2024-01-02 00:00:00");
  // A command run from the old files is fenced off the same way: nothing written.
  auto r = p_.Derived({"backfill", "core.daily", "--from", "2024-01-01", "--to", "2024-01-02"},
                      "2024-01-03T00:05:00Z");
  EXPECT_THAT(r.out + r.err, ::testing::HasSubstr("the fleet runs project version 2"));
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND operation = 'backfill'"), 0);

  // The old process stops; the new one takes its tables and rebuilds core.daily its way.
  svc_.reset();
  bool taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {
    taken = Scalar("SELECT count(*) FROM _derived.leases WHERE owner = 'b' AND table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'") == "5";
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(taken);
  (*standby)->Tick(false);
  (*standby)->WaitIdle();
  EXPECT_EQ(Difference("SELECT * FROM core.daily", daily2_expected), 0);
  EXPECT_EQ(Scalar("SELECT definition_hash FROM _derived.state WHERE table_name = 'core.daily'"), v2_hash);

  // The old files start again (an old pod restarting mid-deploy) and take over: they
  // follow version 2 instead of proposing theirs again, and leave core.daily as it is.
  Start(5, /*reset_clock=*/false);
  standby->reset();
  taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {
    taken = Scalar("SELECT count(*) FROM _derived.leases WHERE owner = 'a' AND table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper' AND expires_at > "
                   "CAST(clock_timestamp() AS TIMESTAMP)") == "5";
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(taken);
  Arrive(T("2024-01-04T00:00:00Z"));
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-04")), 0);
  EXPECT_EQ(Scalar("SELECT max(sequence) FROM _derived.project_versions"), "2");
  EXPECT_EQ(Scalar("SELECT definition_hash FROM _derived.state WHERE table_name = 'core.daily'"), v2_hash);
  EXPECT_EQ(Difference("SELECT * FROM core.daily", daily2_expected), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND definition_hash = '" +
                  v1_hash + "' AND started_at > (SELECT proposed_at FROM _derived.project_versions WHERE sequence = 2)"),
            0)
      << Scalar("SELECT string_agg(operation || '/' || status || '/' || left(definition_hash, 6) || '/' || "
                "coalesce(CAST(details AS TEXT), '') || '@' || CAST(started_at AS VARCHAR), ' | ') FROM _derived.log WHERE table_name = 'core.daily'")
      << " versions: " << Scalar("SELECT string_agg(sequence || ':' || proposed_by || '@' || CAST(proposed_at AS VARCHAR), ' ') FROM _derived.project_versions");
}

// `derived source mark` in another process wakes the source's readers here at once, with
// no poll and no schedule boundary.
TEST_P(SharedServiceTest, ASourceMarkedByAnotherProcessWakesItsReadersHere) {
  select_ = "core.hourly";
  Start();
  clock_.Set(T("2024-01-02T00:05:00Z"));
  auto r = p_.Derived({"source", "mark", "raw.events", "--through", "2024-01-02"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(EventuallyCompleteThrough(*svc_, "core.hourly", "2024-01-02"));
  EXPECT_EQ(Difference("SELECT * FROM core.hourly", HourlyExpected("2024-01-02")), 0);
}

// A commit whose notice never arrived (sent while the listener was down) is seen by the
// poll, which reads the states of what this process's tables read.
TEST_P(SharedServiceTest, ThePollWakesAReaderWhoseInputCommittedWithoutANotice) {
  select_ = "core.hourly";
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-02T00:00:00Z"));
  // The reader starts once core.hourly's commits are over, so no notice of theirs is still
  // on its way to it: from here on only what the test does can wake it.
  ServiceOptions c = last_options_;
  c.owner = "c";
  c.select = "core.daily";
  std::mutex mu;
  int daily_steps = 0;
  auto reader = Service::Start(c, [&](const ServiceEvent& e) {
    std::lock_guard lock(mu);
    daily_steps += e.kind == ServiceEvent::Kind::kStarted && e.table == "core.daily";
  });
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  (*reader)->WaitIdle();
  ASSERT_GT(Count("SELECT count(*) FROM core.daily"), 0);
  int before = 0;
  {
    std::lock_guard lock(mu);
    before = daily_steps;
  }
  // A new version of core.hourly's data, committed with no notice.
  ASSERT_EQ(Count("WITH u AS (UPDATE _derived.state SET data_version = data_version + 1 WHERE table_name = "
                  "'core.hourly' RETURNING 1) SELECT count(*) FROM u"),
            1);
  (*reader)->Tick(true);
  (*reader)->WaitIdle();
  std::lock_guard lock(mu);
  EXPECT_EQ(daily_steps, before + 1);
}

// A fleet's processes would each read every state at every poll to find removed tables:
// only the holder of the sweeper lease does, and another takes the sweep over when it stops.
TEST_P(SharedServiceTest, OneMemberOfTheFleetSweepsTablesRemovedFromTheProject) {
  p_.Configure("removed_tables: {keep_for: 2 days}\n");
  lease_seconds_ = 0.6;
  Start();
  ArriveHourly(T("2024-01-01T00:00:00Z"), T("2024-01-03T00:00:00Z"));
  ASSERT_GT(Count("SELECT count(*) FROM core.clicks_daily"), 0);
  EXPECT_EQ(Scalar("SELECT owner FROM _derived.leases WHERE table_name = '_sweeper'"), "a");
  ServiceOptions b = last_options_;
  b.owner = "b";
  auto other = Service::Start(b);
  ASSERT_TRUE(other.ok()) << other.error().message;
  std::filesystem::remove(p_.dir().path() / "tables/core/clicks_daily.yaml");
  ASSERT_TRUE(svc_->Reload().ok());
  ASSERT_TRUE((*other)->Reload().ok());
  EXPECT_EQ(Scalar("SELECT config->>'removed_at' FROM _derived.state WHERE table_name = 'core.clicks_daily'"),
            "2024-01-03T00:05:00Z");
  // Past its retention: b's polls leave it, a's poll drops it.
  ArriveHourly(T("2024-01-03T00:00:00Z"), T("2024-01-05T01:00:00Z"));
  (*other)->Tick(true);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clicks_daily'"), 1);
  svc_->Tick(true);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'clicks_daily'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.clicks_daily' AND operation = 'drop'"), 1);
  // a stops and lets its leases go; b takes the sweep over and drops the next one.
  svc_.reset();
  bool taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {  // b looks for free leases every 0.2 s
    taken = Scalar("SELECT owner FROM _derived.leases WHERE table_name = '_sweeper' AND expires_at > "
                   "CAST(clock_timestamp() AS TIMESTAMP)") == "b";
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(taken);
  ASSERT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'daily'"), 1);
  std::filesystem::remove(p_.dir().path() / "tables/core/daily.yaml");
  std::filesystem::remove(p_.dir().path() / "tables/core/weekly.yaml");  // reads core.daily
  std::filesystem::remove(p_.dir().path() / "tables/core/monthly.yaml");
  ASSERT_TRUE((*other)->Reload().ok());
  clock_.Set(T("2024-01-08T00:00:00Z"));
  (*other)->Tick(true);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'daily'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _derived.log WHERE table_name = 'core.daily' AND operation = 'drop'"), 1);
  other->reset();
}

INSTANTIATE_TEST_SUITE_P(Postgres, SharedServiceTest, ::testing::Values(WarehouseEngine::kPostgres),
                         testing::EngineName);

}  // namespace
}  // namespace derived
