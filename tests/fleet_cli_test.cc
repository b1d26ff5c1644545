// Many `derived` processes on one PostgreSQL warehouse: `run --shard K/N` splits the
// tables, `update TABLE` serves one, and commands take the leases they write under.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include <regex>

#include "engine_testing.h"
#include "fleet/shard.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;

bool Eventually(const std::function<bool()>& done, int seconds = 20) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::vector<std::string> Args(const WarehouseProject& p, std::vector<std::string> args) {
  args.insert(args.end(), {"--project", p.dir().str()});
  return args;
}

// Six daily tables over the events and a weekly one over the first.
void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", kEventsSource);
  p.Sql(kEventsData);
  for (int i = 0; i < 6; ++i) {
    p.Write(fmt::format("tables/core/t{}.yaml", i),
            fmt::format("schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: SELECT "
                        "date_trunc('day', ts) AS day, count(*) + {} AS n, sum(amount) AS amount FROM raw.events WHERE "
                        "ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}} GROUP BY 1\n",
                        i));
  }
  p.Write("tables/core/weekly.yaml",
          "schedule: weekly\nstrategy: append\nstart: 2024-01-01\ntime_column: week\nsql: SELECT date_trunc('week', "
          "day) AS week, sum(n) AS n FROM core.t0 WHERE day >= {{ window_start }} AND day < {{ window_end }} GROUP BY "
          "1\n");
}

std::string DailyExpected(int i, const std::string& through) {
  return fmt::format("SELECT date_trunc('day', ts), count(*) + {}, sum(amount) FROM raw.events WHERE ts < '{}' GROUP "
                     "BY 1",
                     i, through);
}

const std::vector<std::string> kTables = {"core.t0", "core.t1", "core.t2", "core.t3",
                                          "core.t4", "core.t5", "core.weekly"};

TEST(FleetCli, ShardsSplitTheTablesAndCommandsTakeTheLeasesTheyWriteUnder) {
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteProject(p);
  const std::string now = "DERIVED_NOW=2024-01-20T00:00:00Z";
  Background shard0(Args(p, {"run", "--shard", "0/2", "--poll", "0.2", "--lease", "3"}), {now, "DERIVED_OWNER=s0"});
  Background shard1(Args(p, {"run", "--shard", "1/2", "--poll", "0.2", "--lease", "3"}), {now, "DERIVED_OWNER=s1"});
  ASSERT_TRUE(Eventually([&] {
    return shard0.Output().find("shard 0/2") != std::string::npos &&
           shard1.Output().find("shard 1/2") != std::string::npos;
  })) << shard0.Output() << shard1.Output();
  // Every table's lease is its shard's, taken at start.
  auto owner_of = [](const std::string& t) { return fmt::format("s{}", fleet::ShardOf(t, 2)); };
  ASSERT_TRUE(Eventually([&] { return p.Count("SELECT count(*) FROM _derived.leases WHERE table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'") == 7; }));
  for (const auto& t : kTables) {
    EXPECT_EQ(p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = '" + t + "'"), owner_of(t)) << t;
  }

  // A mark written by another process reaches both (their poll, or a commit notice).
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] {
    // The six days tables and the weekly one (two whole weeks).
    return p.Count("SELECT count(*) FROM _derived.state WHERE complete_through = TIMESTAMP '2024-01-15'") == 7;
  })) << shard0.Output() << shard1.Output();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM core.t{}", i), DailyExpected(i, "2024-01-15")), 0) << i;
  }
  EXPECT_EQ(p.Difference("SELECT * FROM core.weekly",
                         "SELECT date_trunc('week', ts), count(*) FROM raw.events WHERE ts < '2024-01-15' GROUP BY 1"),
            0);
  // Each window was applied once, by the shard that serves its table.
  EXPECT_EQ(p.Count("SELECT count(*) FROM (SELECT table_name, window_start FROM _derived.log WHERE status = 'success' "
                    "AND window_start IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d"),
            0);
  for (const auto& t : kTables) {
    const Background& mine = fleet::ShardOf(t, 2) == 0 ? shard0 : shard1;
    const Background& other = fleet::ShardOf(t, 2) == 0 ? shard1 : shard0;
    EXPECT_THAT(mine.Output(), HasSubstr("built    " + t)) << t;
    EXPECT_THAT(other.Output(), ::testing::Not(HasSubstr("built    " + t))) << t;
  }

  // One step of a table a running process holds is refused, naming the holder.
  auto r = p.Derived({"update", "core.t0", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("held by " + owner_of("core.t0")));
  // `run --once` beside the fleet leaves their tables to them.
  r = p.Derived({"run", "--once"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("built")));
  for (const auto& t : kTables) {
    EXPECT_EQ(p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = '" + t + "'"), owner_of(t)) << t;
  }

  // A restatement takes the leases of everything it repairs from the fleet for its length,
  // and the fleet takes them back after.
  const int64_t generation = p.Count("SELECT generation FROM _derived.leases WHERE table_name = 'core.t0'");
  p.Sql("UPDATE raw.events SET amount = amount + 1 WHERE ts >= '2024-01-03' AND ts < '2024-01-04'");
  r = p.Derived({"source", "restate", "raw.events", "--from", "2024-01-03", "--to", "2024-01-04"}, "2024-01-20");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM core.t{}", i), DailyExpected(i, "2024-01-15")), 0) << i;
  }
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.log WHERE operation = 'backfill' AND status = 'success' AND "
                    "window_start = TIMESTAMP '2024-01-03'"),
            6);
  ASSERT_TRUE(Eventually([&] {
    return p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = 'core.t0'") == owner_of("core.t0") &&
           p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = 'core.weekly'") == owner_of("core.weekly");
  }));
  // Taken by the command, then back by its shard: two new generations.
  EXPECT_GE(p.Count("SELECT generation FROM _derived.leases WHERE table_name = 'core.t0'"), generation + 2);
  // ...and keeps building them.
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-17"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] {
    return p.Count("SELECT count(*) FROM _derived.state WHERE complete_through = TIMESTAMP '2024-01-17'") == 6;
  })) << shard0.Output() << shard1.Output();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(p.Difference(fmt::format("SELECT * FROM core.t{}", i), DailyExpected(i, "2024-01-17")), 0) << i;
  }

  // A stopped shard lets go of its tables at once.
  shard0.Signal(SIGTERM);
  auto stopped = shard0.Wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.leases WHERE owner = 's0' AND expires_at > "
                    "CAST(clock_timestamp() AS TIMESTAMP)"),
            0);
  shard1.Signal(SIGTERM);
  EXPECT_EQ(shard1.Wait().exit_code, 0);
}

// `derived update TABLE` on a server: a service of that one table, under its lease; a
// second updater of the same table stands by and takes over when the first dies.
TEST(FleetCli, ASecondUpdaterOfATableStandsByAndTakesOverWhenTheFirstIsKilled) {
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteProject(p);
  const std::string now = "DERIVED_NOW=2024-01-20T00:00:00Z";
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  Background first(Args(p, {"update", "core.t1", "--poll", "0.2", "--lease", "3"}), {now, "DERIVED_OWNER=first"});
  ASSERT_TRUE(Eventually([&] { return first.Output().find("built    core.t1") != std::string::npos; }))
      << first.Output() << first.Errors();
  Background second(Args(p, {"update", "core.t1", "--poll", "0.2", "--lease", "3"}), {now, "DERIVED_OWNER=second"});
  ASSERT_TRUE(Eventually([&] { return second.Output().find("serving core.t1") != std::string::npos; }));
  EXPECT_EQ(p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = 'core.t1'"), "first");
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.leases WHERE table_name NOT LIKE '\\_fleet/%' AND table_name <> '_sweeper'"), 1);  // no other table is theirs

  first.Signal(SIGKILL);  // no release: the lease must expire
  (void)first.Wait();
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-09"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] {
    return p.Count("SELECT count(*) FROM _derived.state WHERE table_name = 'core.t1' AND complete_through = "
                   "TIMESTAMP '2024-01-09'") == 1;
  })) << second.Output() << second.Errors();
  EXPECT_EQ(p.Scalar("SELECT owner FROM _derived.leases WHERE table_name = 'core.t1'"), "second");
  EXPECT_EQ(p.Difference("SELECT * FROM core.t1", DailyExpected(1, "2024-01-09")), 0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM (SELECT window_start FROM _derived.log WHERE status = 'success' AND "
                    "table_name = 'core.t1' GROUP BY 1 HAVING count(*) > 1) d"),
            0);
  // Nothing else was built: those tables have no updater.
  EXPECT_EQ(p.Count("SELECT count(*) FROM _derived.state WHERE table_name <> 'core.t1' AND data_version > 0"), 0);
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait().exit_code, 0);
}

// Each process serves its health and metrics: what a probe and a Prometheus scrape see.
TEST(FleetCli, AProcessServesHealthReadinessAndMetrics) {
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteProject(p);
  Background svc(Args(p, {"run", "--shard", "0/1", "--poll", "0.2", "--lease", "3", "--health-port", "0"}),
                 {"DERIVED_NOW=2024-01-20T00:00:00Z", "DERIVED_OWNER=one"});
  std::smatch m;
  int port = 0;
  ASSERT_TRUE(Eventually([&] {
    std::string o = svc.Output();
    if (!std::regex_search(o, m, std::regex("health endpoint 127\\.0\\.0\\.1:([0-9]+)"))) return false;
    port = std::stoi(m[1]);
    return o.find("serving") != std::string::npos;
  })) << svc.Output() << svc.Errors();
  httplib::Client client("127.0.0.1", port);
  auto get = [&](const std::string& path) {
    auto res = client.Get(path);
    return res ? std::make_pair(res->status, res->body) : std::make_pair(-1, std::string());
  };
  EXPECT_TRUE(Eventually([&] { return get("/readyz").first == 200; }));
  EXPECT_EQ(get("/healthz").first, 200);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-15"}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] {
    return p.Count("SELECT count(*) FROM _derived.state WHERE complete_through = TIMESTAMP '2024-01-15'") == 7;
  }));
  // core.weekly was woken by core.t0's commit: one wake-up at least.
  auto metric = [&](const std::string& line) {
    auto [status, body] = get("/metrics");
    return status == 200 && body.find(line) != std::string::npos;
  };
  EXPECT_TRUE(Eventually([&] { return metric("derived_tables_owned 7\n"); })) << get("/metrics").second;
  EXPECT_TRUE(metric("derived_tables_served 7\n"));
  EXPECT_TRUE(metric("derived_builds_total{table=\"core.t0\",status=\"built\"} "));
  EXPECT_TRUE(metric("derived_ready 1\n"));
  auto body = get("/metrics").second;
  ASSERT_TRUE(std::regex_search(body, m, std::regex("derived_wakeup_latency_seconds_count ([0-9]+)")));
  EXPECT_GE(std::stoi(m[1]), 1);
  ASSERT_TRUE(std::regex_search(body, m, std::regex("derived_lease_renewals_total ([0-9]+)")));
  EXPECT_GE(std::stoi(m[1]), 1);
  EXPECT_EQ(get("/nope").first, 404);
  svc.Signal(SIGTERM);
  EXPECT_EQ(svc.Wait().exit_code, 0);
}

TEST(FleetCli, ShardArgumentsAreChecked) {
  WarehouseProject duck;
  WriteProject(duck);
  auto r = duck.Derived({"run", "--shard", "0/2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("shared warehouse"));
  WarehouseProject p(WarehouseEngine::kPostgres);
  WriteProject(p);
  for (const char* bad : {"2/2", "x", "1/0", "-1/3", "0/100000"}) {
    r = p.Derived({"run", "--shard", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_THAT(r.err, HasSubstr("--shard")) << bad;
  }
  r = p.Derived({"run", "--once", "--shard", "0/2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("leave out --once"));
  r = p.Derived({"run", "--lease", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--lease"));
}

}  // namespace
}  // namespace derived::testing
