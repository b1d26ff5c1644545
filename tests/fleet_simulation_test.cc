// A fleet on a real PostgreSQL server through a simulated day: 20 processes (`run --shard
// K/8` twice per shard, and `update TABLE` twice for two tables that a shard serves too)
// on a 200-table DAG, with processes SIGKILLed and started again and their connections
// cut by pg_terminate_backend at random. At the end every table must equal a clean
// single-process build, every window must have been applied once, and every table must
// have caught up (no deadlock). The takeover time after each kill is printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "engine_testing.h"

namespace derived::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kFirst = 20, kSecond = 60, kDaily = 120;  // 200 tables
constexpr int kShards = 8;

std::string Hourly(int i) { return fmt::format("core.h{:02}", i); }
std::string Second(int i) { return fmt::format("core.g{:02}", i); }
std::string Daily(int i) { return fmt::format("mart.d{:03}", i); }

// Twenty hourly tables over the events, sixty hourly tables over one or two of those,
// and 120 daily ones over the second layer.
void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: ts, type: TIMESTAMP}\n"
                                     "  - {name: k, type: BIGINT}\n  - {name: v, type: FLOAT8}\n");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '3 minutes' AS "
        "ts, CAST(i % 17 AS BIGINT) AS k, CAST((i % 13) * 1.5 AS FLOAT8) AS v FROM generate_series(0, 24 * 20 - 1) t(i)");
  const std::string head = "schedule: hourly\nstrategy: append\nstart: 2024-01-01\ntime_column: hour\nsql: ";
  for (int i = 0; i < kFirst; ++i) {
    p.Write("tables/core/h" + fmt::format("{:02}", i) + ".yaml",
            head + fmt::format("SELECT date_trunc('hour', ts) AS hour, count(*) + {} AS n, sum(v) AS s FROM raw.events "
                               "WHERE ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}} AND k % 3 <> {} "
                               "GROUP BY 1\n",
                               i, i % 3));
  }
  for (int i = 0; i < kSecond; ++i) {
    std::string from = i % 2 ? fmt::format("(SELECT hour, n, s FROM {} UNION ALL SELECT hour, n, s FROM {}) AS u",
                                           Hourly(i % kFirst), Hourly((i * 7 + 3) % kFirst))
                             : Hourly(i % kFirst);
    p.Write("tables/core/g" + fmt::format("{:02}", i) + ".yaml",
            head + fmt::format("SELECT hour, sum(n) * {} AS n, max(s) AS s FROM {} WHERE hour >= {{{{ window_start }}}} "
                               "AND hour < {{{{ window_end }}}} GROUP BY 1\n",
                               i + 1, from));
  }
  for (int i = 0; i < kDaily; ++i) {
    p.Write("tables/mart/d" + fmt::format("{:03}", i) + ".yaml",
            fmt::format("schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: SELECT "
                        "date_trunc('day', hour) AS day, sum(n) + {} AS n, min(s) AS s FROM {} WHERE hour >= {{{{ "
                        "window_start }}}} AND hour < {{{{ window_end }}}} GROUP BY 1\n",
                        i, Second(i % kSecond)));
  }
}

std::vector<std::string> AllTables() {
  std::vector<std::string> out;
  for (int i = 0; i < kFirst; ++i) out.push_back(Hourly(i));
  for (int i = 0; i < kSecond; ++i) out.push_back(Second(i));
  for (int i = 0; i < kDaily; ++i) out.push_back(Daily(i));
  return out;
}

bool Eventually(const std::function<bool()>& done, int seconds) {
  auto until = SteadyClock::now() + std::chrono::seconds(seconds);
  while (SteadyClock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

struct Process {
  std::vector<std::string> args;  // without the owner
  std::string owner;
  int restarts = 0;
  std::unique_ptr<Background> running = nullptr;
};

TEST(FleetSimulation, TwentyProcessesKilledAndCutOffBuildADayExactlyOnceAsOneWould) {
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteProject(p);
  const std::string project = p.dir().str();
  const std::string now = "DERIVED_NOW=2024-01-02T01:00:00Z";
  std::vector<Process> fleet;
  for (int k = 0; k < kShards; ++k) {
    for (int replica = 0; replica < 2; ++replica) {
      fleet.push_back({{"run", "--shard", fmt::format("{}/{}", k, kShards), "--workers", "1", "--poll", "0.5",
                        "--lease", "3", "--watch", "0", "--project", project},
                       fmt::format("shard{}-{}", k, replica)});
    }
  }
  for (const std::string& t : {Second(5), Daily(7)}) {
    for (int replica = 0; replica < 2; ++replica) {
      fleet.push_back({{"update", t, "--poll", "0.5", "--lease", "3", "--watch", "0", "--project", project},
                       fmt::format("update-{}-{}", t, replica)});
    }
  }
  ASSERT_EQ(fleet.size(), 20u);
  auto start = [&](Process& proc) {
    std::string name = fmt::format("{}-r{}", proc.owner, proc.restarts);
    proc.running = std::make_unique<Background>(proc.args, std::vector<std::string>{now, "DERIVED_OWNER=" + name});
    return name;
  };
  for (auto& proc : fleet) start(proc);

  std::mt19937 rng(20241203);
  std::vector<double> takeovers;
  int kills = 0, cuts = 0;
  for (int hour = 1; hour <= 24; ++hour) {
    std::string through = hour < 24 ? fmt::format("2024-01-01T{:02}:00:00Z", hour) : "2024-01-02T00:00:00Z";
    auto r = p.Derived({"source", "mark", "raw.events", "--through", through});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (rng() % 3 == 0) {
      // Mostly a process that holds tables (its death has to be noticed), else any.
      std::string holder = rng() % 3 ? p.Scalar("SELECT min(owner) FROM _derived.leases WHERE NOT "
                                                 "starts_with(table_name, '_fleet/') AND table_name <> '_sweeper' AND expires_at > "
                                                 "CAST(clock_timestamp() AS TIMESTAMP) AND hashtext(owner) % 7 = " +
                                                 std::to_string(rng() % 7))
                                     : "NULL";
      size_t pick = rng() % fleet.size();
      for (size_t i = 0; i < fleet.size(); ++i) {
        if (fmt::format("{}-r{}", fleet[i].owner, fleet[i].restarts) == holder) pick = i;
      }
      Process& victim = fleet[pick];
      std::string was = fmt::format("{}-r{}", victim.owner, victim.restarts);
      int held = static_cast<int>(p.Count("SELECT count(*) FROM _derived.leases WHERE owner = '" + was +
                                          "' AND NOT starts_with(table_name, '_fleet/') AND table_name <> '_sweeper'"));
      victim.running->Signal(SIGKILL);
      auto killed_at = SteadyClock::now();
      (void)victim.running->Wait();
      ++kills;
      ++victim.restarts;
      start(victim);
      if (held > 0) {
        // Its tables are another process's (or its successor's) once its leases expire.
        EXPECT_TRUE(Eventually([&] {
          return p.Count("SELECT count(*) FROM _derived.leases WHERE owner = '" + was +
                         "' AND NOT starts_with(table_name, '_fleet/') AND table_name <> '_sweeper'") == 0;
        }, 30)) << was;
        takeovers.push_back(std::chrono::duration<double>(SteadyClock::now() - killed_at).count());
      }
    }
    if (rng() % 4 == 0) {
      p.Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
            "pg_backend_pid() AND application_name LIKE 'derived%' AND random() < 0.3");
      ++cuts;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }

  // Everything catches up: no deadlock, nothing left behind.
  const auto tables = AllTables();
  ASSERT_EQ(tables.size(), 200u);
  bool done = Eventually([&] {
    return p.Count("SELECT count(*) FROM _derived.state WHERE complete_through = TIMESTAMP '2024-01-02'") == 200;
  }, 240);
  std::string outputs;
  if (!done) {
    for (auto& proc : fleet) outputs += proc.owner + ":\n" + proc.running->Errors() + proc.running->Output().substr(0, 2000);
  }
  ASSERT_TRUE(done) << p.Scalar("SELECT string_agg(table_name || '@' || coalesce(CAST(complete_through AS VARCHAR), "
                                "'-'), ' ') FROM _derived.state WHERE complete_through IS DISTINCT FROM TIMESTAMP "
                                "'2024-01-02'")
                    << outputs.substr(0, 60000);
  for (auto& proc : fleet) proc.running->Signal(SIGTERM);
  for (auto& proc : fleet) {
    auto stopped = proc.running->Wait();
    EXPECT_EQ(stopped.exit_code, 0) << proc.owner << "\n" << stopped.err << stopped.out.substr(0, 3000);
  }

  // Each window applied once: no two successful writes of a table overlap.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log a JOIN _derived.log b ON a.table_name = b.table_name AND "
                    "a.ctid < b.ctid AND a.window_start < b.window_end AND b.window_start < a.window_end WHERE "
                    "a.status = 'success' AND b.status = 'success' AND a.operation IN ('create', 'append') AND "
                    "b.operation IN ('create', 'append')"),
            0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE status = 'success' AND operation NOT IN ('create', "
                    "'append')"),
            0);

  // A clean build by one process from the same raw data.
  WarehouseProject clean(WarehouseEngine::kPostgres);
  WriteProject(clean);
  ASSERT_EQ(clean.Derived({"source", "mark", "raw.events", "--through", "2024-01-02"}).exit_code, 0);
  auto r = clean.Derived({"run", "--once"}, "2024-01-02T01:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& t : tables) {
    const std::string sql = "SELECT string_agg(CAST(x AS TEXT), '|' ORDER BY CAST(x AS TEXT)) FROM " + t + " AS x";
    EXPECT_EQ(p.Scalar(sql), clean.Scalar(sql)) << t;
  }

  std::sort(takeovers.begin(), takeovers.end());
  std::string times;
  for (double s : takeovers) times += fmt::format(" {:.1f}", s);
  std::printf("fleet simulation: 20 processes, 200 tables, 24 hours, %d kills, %d connection cuts; takeover after a "
              "kill (lease 3 s), seconds:%s\n",
              kills, cuts, times.c_str());
}


}  // namespace
}  // namespace derived::testing
