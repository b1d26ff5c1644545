// Kill `derived run --once` at random points, many times, then let it finish: the tables
// must equal plain SQL over the raw data and the log must hold every window exactly once.
// On both engines (on PostgreSQL the server rolls back what a killed client left open).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "engine_testing.h"

namespace derived {
namespace {

using testing::WarehouseProject;

void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", R"(time_column: ts
freshness: marker
columns:
  - {name: user_id, type: BIGINT}
  - {name: ts, type: TIMESTAMP}
  - {name: amount, type: FLOAT8}
)");
  // Small batches: many transactions to interrupt.
  p.Write("tables/core/hourly.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
batch: 12
time_column: hour
sql: |
  SELECT date_trunc('hour', ts) AS hour, user_id, count(*) AS events, sum(amount) AS amount FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1, 2
)");
  p.Write("tables/core/users.yaml", R"(schedule: daily
strategy: merge
start: 2024-01-01
batch: 1
time_column: last_seen
merge: {keys: [user_id], rules: {first_seen: min, last_seen: max, events: sum}}
sql: |
  SELECT user_id, min(hour) AS first_seen, max(hour) AS last_seen, sum(events) AS events FROM hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }} GROUP BY 1
)");
  p.Write("tables/core/totals.yaml", R"(schedule: daily
sql: SELECT count(*) AS users, sum(events) AS events FROM users
)");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT CAST(i % 97 AS BIGINT) AS user_id, TIMESTAMP "
        "'2024-01-01' + i * INTERVAL '7 seconds' AS ts, CAST((i % 11) * 0.5 AS FLOAT8) AS amount FROM "
        "generate_series(0, 555427) t(i)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-02-15"}).exit_code, 0);
}

// What each table must hold, from the raw data alone.
const char* kHourlyExpected =
    "SELECT date_trunc('hour', ts) AS hour, user_id, count(*) AS events, sum(amount) AS amount FROM raw.events "
    "WHERE ts < TIMESTAMP '2024-02-15' GROUP BY 1, 2";
const std::string kUsersExpected = std::string("SELECT user_id, min(hour), max(hour), sum(events) FROM (") +
                                   kHourlyExpected + ") AS h GROUP BY 1";
const std::string kTotalsExpected =
    "SELECT count(*), sum(e) FROM (SELECT user_id, sum(events) AS e FROM (" + std::string(kHourlyExpected) +
    ") AS h GROUP BY 1) AS u";

class Crash : public ::testing::TestWithParam<WarehouseEngine> {};

TEST_P(Crash, KilledRunsLoseNothingAndDuplicateNothing) {
  const std::string now = "2024-02-15T10:00:00Z";
  // A clean run says how many windows the history has.
  WarehouseProject clean(GetParam());
  WriteProject(clean);
  auto r = clean.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  WarehouseProject crashed(GetParam());
  WriteProject(crashed);
  std::mt19937 rng(12345);
  // Kill after a random delay that adapts to the machine: it grows while a run commits
  // nothing and shrinks when one commits a large share, so runs are interrupted in the
  // middle of real work whether the machine is fast or loaded (tests run in parallel).
  auto successes = [](WarehouseProject& p) {
    return p.Count("SELECT count(*) FROM _derived.log WHERE status = 'success'");
  };
  const int64_t all_windows = successes(clean);
  double delay_ms = 100;
  int killed = 0, runs = 0;
  int64_t committed = 0;
  while (runs < 12 && committed < all_windows * 3 / 4) {
    std::uniform_int_distribution<int> jitter(0, static_cast<int>(delay_ms / 2));
    ++runs;
    killed += testing::RunDerivedAndKill({"run", "--once", "--project", crashed.dir().str(), "--now", now},
                                         std::chrono::milliseconds(static_cast<int>(delay_ms) + jitter(rng)))
                  ? 1
                  : 0;
    int64_t now_committed = successes(crashed);
    if (now_committed == committed) delay_ms *= 1.5;
    if (now_committed - committed > all_windows / 8) delay_ms *= 0.6;
    committed = now_committed;
  }
  // The interrupted runs got somewhere, but not to the end.
  std::printf("interrupted %d of %d runs; %lld of %lld windows committed before the final run\n", killed, runs,
              static_cast<long long>(committed), static_cast<long long>(all_windows));
  EXPECT_GE(killed, 4) << "the runs finished too fast to be interrupted";
  EXPECT_GT(committed, 0);
  EXPECT_LT(committed, all_windows);
  r = crashed.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(successes(crashed), all_windows);

  EXPECT_EQ(crashed.Difference("SELECT * FROM core.hourly", kHourlyExpected), 0);
  EXPECT_EQ(crashed.Difference("SELECT * FROM core.users", kUsersExpected), 0);
  EXPECT_EQ(crashed.Difference("SELECT * FROM core.totals", kTotalsExpected), 0);
  EXPECT_GT(crashed.Count("SELECT count(*) FROM core.hourly"), 45 * 24);
  // Every committed window appears once in the log, and the windows tile the history.
  EXPECT_EQ(crashed.Count("SELECT count(*) FROM (SELECT table_name, window_start FROM _derived.log WHERE status = "
                          "'success' GROUP BY 1, 2 HAVING count(*) > 1) AS twice"),
            0);
  EXPECT_EQ(crashed.Scalar("SELECT CAST(sum(extract(epoch FROM window_end - window_start)) / 3600 AS BIGINT) FROM "
                           "_derived.log WHERE table_name = 'core.hourly' AND status = 'success'"),
            std::to_string(45 * 24));
  EXPECT_EQ(crashed.Scalar("SELECT CAST(completed AS VARCHAR) FROM _derived.state WHERE table_name = 'core.hourly'"),
            R"([["2024-01-01T00:00:00Z","2024-02-15T00:00:00Z"]])");
}

INSTANTIATE_TEST_SUITE_P(BothEngines, Crash, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
