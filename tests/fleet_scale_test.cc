// A simulation of a fleet as its DAG grows (FLEET_SCALE.md): 100 processes sharing a
// real PostgreSQL server, for DAGs of 1,000 to 10,000 hourly tables. Each process is a
// warehouse session of its own with the real metadata store under a lease fence and a
// real commit listener. One hour is simulated: every table's window is committed by its
// shard's process with the statements a build sends to the state store (the step's
// state reload, then Claim, the log row and the state in one transaction; the table's
// own SQL is left out, it is not the fleet's cost), in dependency order, and the reader's
// process is timed until the commit's notice reaches it. Then each process renews its
// leases and polls the state as the service does, a few rounds of the hour's 360
// renewals and 60 polls.
//
// What PostgreSQL itself counted (pg_stat_user_tables over `_derived`, read once every
// session has closed, so nothing is still unflushed) gives the scans and rows per window;
// the client times steps, renewals and wake-ups. The test asserts what must stay flat and
// prints the curve.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "fleet/lease_book.h"
#include "fleet/shard.h"
#include "metadata/store.h"
#include "postgres_testing.h"
#include "warehouse/coordination.h"
#include "warehouse/postgres/pq.h"
#include "warehouse/postgres/warehouse.h"

namespace derived::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kProcesses = 100;
constexpr int kLayers = 10;
constexpr double kLeaseSeconds = 30;  // ServiceOptions' default: renewed every 10 s
constexpr double kPollSeconds = 60;   // ServiceOptions' default
constexpr int kBackgroundRounds = 3;
constexpr const char* kHash = "sim-definition";
const Timestamp kHour0{1704067200};  // 2024-01-01T00:00:00Z
const Window kSeeded{kHour0, {kHour0.seconds + 3600}};
const Window kSimulated{{kHour0.seconds + 3600}, {kHour0.seconds + 7200}};

// Layers of hourly tables; each table past the first layer reads two of the layer before.
struct Dag {
  std::vector<std::string> names;
  std::vector<std::vector<int>> inputs, readers;
  std::vector<int> owner;  // fleet::ShardOf over kProcesses, as `run --shard K/100` splits
  std::vector<std::vector<int>> served;
};

Dag MakeDag(int n) {
  Dag d;
  d.inputs.resize(n);
  d.readers.resize(n);
  d.served.resize(kProcesses);
  std::mt19937 rng(n);
  const int width = n / kLayers;
  for (int i = 0; i < n; ++i) {
    d.names.push_back(fmt::format("l{}.t{:05}", i / width, i));
    if (i >= width) {
      const int prev = (i / width - 1) * width;
      int a = prev + static_cast<int>(rng() % width), b = prev + static_cast<int>(rng() % width);
      d.inputs[i].push_back(a);
      if (b != a) d.inputs[i].push_back(b);
      for (int up : d.inputs[i]) d.readers[up].push_back(i);
    }
    d.owner.push_back(fleet::ShardOf(d.names[i], kProcesses));
    d.served[d.owner[i]].push_back(i);
  }
  return d;
}

std::string Owner(int p) { return fmt::format("sim-{:03}", p); }

std::unique_ptr<Warehouse> Open(const PostgresDatabase& db) {
  auto options = PostgresConnectOptions(db.dsn());
  EXPECT_TRUE(options.ok());
  auto wh = OpenPostgresWarehouse(*options);
  if (!wh.ok()) {
    ADD_FAILURE() << wh.error().message;
    return nullptr;
  }
  return std::move(*wh);
}

// Scans (sequential and index) and rows read over the metadata tables, as PostgreSQL
// counted them. Only sessions that have ended have flushed theirs: wait for them first.
struct Scans {
  double scans = 0, rows = 0;
};

Scans ReadScans(const PostgresDatabase& db) {
  for (int i = 0; i < 1000; ++i) {  // bounded: backends leave within a moment of their close
    if (db.Psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                "pg_backend_pid()") == "0") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string out = db.Psql(
      "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) || ' ' || "
      "coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) FROM pg_stat_user_tables "
      "WHERE schemaname = '_derived'");
  Scans s;
  EXPECT_EQ(std::sscanf(out.c_str(), "%lf %lf", &s.scans, &s.rows), 2) << out;
  return s;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

struct Curve {
  int tables = 0;
  double requests_per_window = 0;  // to the server, counted by the client (pg::Requests)
  double scans_per_window = 0, rows_per_window = 0;  // counted by the server
  double step_p50_ms = 0, step_p99_ms = 0;
  double wake_p50_ms = 0, wake_p99_ms = 0;
  double notices_per_process = 0;  // what each listener read in the hour
  double renewals_per_second = 0, renew_p50_ms = 0, renew_p99_ms = 0, rows_per_renewal = 0;
  double server_rows_per_renewal = 0;  // what the server read for one
  double poll_rows_per_process = 0, poll_rows_per_window = 0, poll_p50_ms = 0;
  double poll_states_per_window = 0;  // the states the polls ask for, spread over the hour's windows
};

// A process of the fleet: a session, its state store fenced by its leases, a listener.
struct Process {
  std::unique_ptr<Warehouse> wh;
  std::unique_ptr<MetadataStore> meta;
  std::unique_ptr<CommitListener> listener;
};

TableState Seeded(const std::string& name) {
  TableState s;
  s.table = name;
  s.definition_hash = kHash;
  s.version = 1;
  s.data_version = 1;
  s.completed.Add(kSeeded);
  s.complete_through = kSeeded.end;
  s.last_status = "success";
  s.config = {{"strategy", "append"}};
  return s;
}

Curve Simulate(int n) {
  Curve c;
  c.tables = n;
  PostgresDatabase db;
  EXPECT_TRUE(db.ok());
  if (!db.ok()) return c;
  const Dag dag = MakeDag(n);
  std::map<std::string, int64_t> generations;

  // Seeding, on a session that closes before anything is counted: every lease, the
  // fleet's members and agreed version (every table defined as the processes build it),
  // and each table's state after hour 0.
  {
    auto seed = Open(db);
    if (!seed) return c;
    EXPECT_TRUE(seed->CreateMetadataSchema().ok());
    Coordination& coord = *seed->coordination();
    FleetVersion v;
    v.content = fmt::format("sim-{}", n);
    v.proposed_by = Owner(0);
    for (int p = 0; p < kProcesses; ++p) {
      std::vector<std::string> tables = {kFleetMemberPrefix + Owner(p)};
      if (p == 0) tables.push_back(kSweeperLease);
      for (int i : dag.served[p]) tables.push_back(dag.names[i]);
      auto got = coord.Acquire(tables, Owner(p), 3600);
      EXPECT_TRUE(got.ok() && got->size() == tables.size());
      if (got.ok()) generations.insert(got->begin(), got->end());
    }
    for (const auto& name : dag.names) v.hashes[name] = kHash;
    EXPECT_TRUE(coord.Propose(v, 0).ok());
    MetadataStore meta(seed.get(), Provenance{});
    EXPECT_TRUE(meta.EnsureSchema().ok());
    for (int from = 0; from < n; from += 500) {
      Status st = InTransaction(*seed, [&]() -> Status {
        for (int i = from; i < std::min(n, from + 500); ++i) {
          if (auto s = meta.SaveState(Seeded(dag.names[i]), TableState{}); !s.ok()) return s;
        }
        return Status::Ok();
      });
      EXPECT_TRUE(st.ok()) << st.error().message;
    }
  }
  // Statistics, as autovacuum would have them on a running warehouse, so the server plans
  // the lookups below for tables of this size.
  db.Psql("ANALYZE _derived.state; ANALYZE _derived.leases; ANALYZE _derived.log");
  const Scans before = ReadScans(db);

  // The hour: every window, in dependency order, by its table's process.
  std::vector<double> steps, wakes;
  std::vector<double> notices(kProcesses, 0);
  {
    std::vector<Process> fleet(kProcesses);
    for (int p = 0; p < kProcesses; ++p) {
      fleet[p].wh = Open(db);
      if (!fleet[p].wh) return c;
      fleet[p].meta = std::make_unique<MetadataStore>(fleet[p].wh.get(), Provenance{});
      auto book = std::make_shared<fleet::LeaseBook>(Owner(p));
      std::map<std::string, int64_t> held;
      for (int i : dag.served[p]) held[dag.names[i]] = generations[dag.names[i]];
      book->Add(held);
      fleet[p].meta->SetFence(book);
      auto l = fleet[p].wh->coordination()->Listen();
      EXPECT_TRUE(l.ok());
      if (!l.ok()) return c;
      fleet[p].listener = std::move(*l);
    }
    auto drain = [&](int p, const std::string& until) {
      for (int tries = 0; tries < 200; ++tries) {  // bounded: at most 10 s
        bool resumed = false;
        auto got = fleet[p].listener->Wait(until.empty() ? 0 : 50, &resumed);
        EXPECT_TRUE(got.ok());
        if (!got.ok()) return false;
        notices[p] += static_cast<double>(got->size());
        for (const auto& notice : *got) {
          if (notice.table == until) return true;
        }
        if (until.empty() && got->empty()) return true;
      }
      return false;
    };
    const int64_t requests = pg::Requests();
    int64_t drained_requests = 0;  // the listeners' reads: not the state store's
    for (int i = 0; i < n; ++i) {
      Process& proc = fleet[dag.owner[i]];
      const std::string& name = dag.names[i];
      auto t0 = SteadyClock::now();
      std::vector<std::string> read = {name};  // Engine::ReloadStates: the table and its inputs
      for (int up : dag.inputs[i]) read.push_back(dag.names[up]);
      auto states = proc.meta->LoadStates(&read);
      EXPECT_TRUE(states.ok() && states->count(name));
      if (!states.ok() || !states->count(name)) return c;
      const TableState base = states->at(name);
      TableState next = base;
      next.data_version += 1;
      next.completed.Add(kSimulated);
      next.complete_through = kSimulated.end;
      LogEntry e = LogEntry::Begin("sim-run", name, kHash, "append", kSimulated.end);
      e.window = kSimulated;
      Status st = InTransaction(*proc.wh, [&]() -> Status {
        auto newer = proc.meta->Claim(name, base, &next.definition_hash);
        if (!newer.ok()) return newer.error();
        if (newer->has_value()) return Error("superseded");
        if (auto s = proc.meta->AppendLog(e); !s.ok()) return s;
        return proc.meta->SaveState(next, base);
      });
      EXPECT_TRUE(st.ok()) << name << ": " << st.error().message;
      auto committed = SteadyClock::now();
      steps.push_back(Ms(committed - t0));
      const int64_t before_wake = pg::Requests();
      if (!dag.readers[i].empty()) {
        EXPECT_TRUE(drain(dag.owner[dag.readers[i].front()], name)) << "no notice of " << name;
        wakes.push_back(Ms(SteadyClock::now() - committed));
      }
      if (i % 100 == 99) {
        for (int p = 0; p < kProcesses; ++p) drain(p, "");
      }
      drained_requests += pg::Requests() - before_wake;
    }
    c.requests_per_window = static_cast<double>(pg::Requests() - requests - drained_requests) / n;
    for (int p = 0; p < kProcesses; ++p) drain(p, "");
  }
  const Scans windows = ReadScans(db);

  // The background of the hour, sampled: each process renews its leases and polls the
  // states its tables read.
  std::vector<double> renewals, polls;
  double renewed_rows = 0;
  std::vector<std::vector<std::string>> polled(kProcesses);
  for (int p = 0; p < kProcesses; ++p) {
    std::set<int> inputs;
    for (int i : dag.served[p]) inputs.insert(dag.inputs[i].begin(), dag.inputs[i].end());
    for (int up : inputs) polled[p].push_back(dag.names[up]);
  }
  // Renewals, then polls, each on sessions of their own, so the server's counts tell them apart.
  auto rounds = [&](const std::function<void(int, Warehouse&, MetadataStore&)>& act) {
    std::vector<std::unique_ptr<Warehouse>> sessions;
    std::vector<std::unique_ptr<MetadataStore>> stores;
    for (int p = 0; p < kProcesses; ++p) {
      sessions.push_back(Open(db));
      if (!sessions.back()) return false;
      stores.push_back(std::make_unique<MetadataStore>(sessions.back().get(), Provenance{}));
    }
    for (int round = 0; round < kBackgroundRounds; ++round) {
      for (int p = 0; p < kProcesses; ++p) act(p, *sessions[p], *stores[p]);
    }
    return true;
  };
  if (!rounds([&](int p, Warehouse& wh, MetadataStore&) {
        auto t0 = SteadyClock::now();
        auto held = wh.coordination()->Renew(Owner(p), 3600);
        renewals.push_back(Ms(SteadyClock::now() - t0));
        EXPECT_TRUE(held.ok());
        if (held.ok()) renewed_rows += static_cast<double>(held->size());
      })) {
    return c;
  }
  const Scans renewed = ReadScans(db);
  if (!rounds([&](int p, Warehouse&, MetadataStore& meta) {
        // Service::PollStates: the states of what this process's tables read; the sweep
        // of removed tables: every state, by the one process holding kSweeperLease.
        auto t0 = SteadyClock::now();
        auto read = meta.LoadStates(&polled[p]);
        EXPECT_TRUE(read.ok() && read->size() == polled[p].size());
        if (p == 0) EXPECT_TRUE(meta.LoadStates().ok());
        EXPECT_TRUE(meta.LoadMarks().ok());
        polls.push_back(Ms(SteadyClock::now() - t0));
      })) {
    return c;
  }
  const Scans background = ReadScans(db);

  // Every window was applied once, and every table has its hour.
  EXPECT_EQ(db.Psql("SELECT count(*) FROM _derived.state WHERE data_version = 2"), std::to_string(n));
  EXPECT_EQ(db.Psql("SELECT count(*) FROM _derived.log WHERE operation = 'append'"), std::to_string(n));

  c.scans_per_window = (windows.scans - before.scans) / n;
  c.rows_per_window = (windows.rows - before.rows) / n;
  c.step_p50_ms = Percentile(steps, 50);
  c.step_p99_ms = Percentile(steps, 99);
  c.wake_p50_ms = Percentile(wakes, 50);
  c.wake_p99_ms = Percentile(wakes, 99);
  double sum = 0;
  for (double x : notices) sum += x;
  c.notices_per_process = sum / kProcesses;
  c.renewals_per_second = kProcesses / (kLeaseSeconds / 3);  // fleet::LeaseKeeper and the service
  c.renew_p50_ms = Percentile(renewals, 50);
  c.renew_p99_ms = Percentile(renewals, 99);
  c.rows_per_renewal = renewed_rows / static_cast<double>(renewals.size());
  const double polls_done = kProcesses * kBackgroundRounds;
  const double polls_per_hour = kProcesses * 3600 / kPollSeconds;
  c.server_rows_per_renewal = (renewed.rows - windows.rows) / polls_done;
  c.poll_rows_per_process = (background.rows - renewed.rows) / polls_done;
  c.poll_rows_per_window = c.poll_rows_per_process * polls_per_hour / n;
  c.poll_p50_ms = Percentile(polls, 50);
  double asked = n;  // the sweeper's read of every state
  for (const auto& names : polled) asked += static_cast<double>(names.size());
  c.poll_states_per_window = asked * (3600 / kPollSeconds) / n;
  return c;
}

TEST(FleetScale, StateQueriesLeaseRenewalsAndWakeUpsStayFlatFromOneToTenThousandTables) {
  std::vector<Curve> curve;
  for (int n : {1000, 3000, 10000}) {
    curve.push_back(Simulate(n));
    if (::testing::Test::HasFailure()) return;
  }
  std::string table = fmt::format(
      "{:>7} | {:>6} {:>8} {:>8} | {:>7} {:>7} | {:>7} {:>7} {:>8} | {:>6} {:>7} {:>7} {:>6} {:>6} | {:>9} {:>9} {:>8}\n", "tables", "req/w",
      "scans/w", "rows/w", "step50", "step99", "wake50", "wake99", "notices", "ren/s", "ren50", "ren99", "rows", "read",
      "poll rows", "rows/w", "poll50");
  for (const Curve& c : curve) {
    table += fmt::format(
        "{:>7} | {:>6.2f} {:>8.2f} {:>8.2f} | {:>7.2f} {:>7.2f} | {:>7.2f} {:>7.2f} {:>8.0f} | {:>6.1f} {:>7.2f} {:>7.2f} {:>6.0f} {:>6.0f} | "
        "{:>9.0f} {:>9.0f} {:>8.2f}\n",
        c.tables, c.requests_per_window, c.scans_per_window, c.rows_per_window, c.step_p50_ms, c.step_p99_ms, c.wake_p50_ms, c.wake_p99_ms,
        c.notices_per_process, c.renewals_per_second, c.renew_p50_ms, c.renew_p99_ms, c.rows_per_renewal, c.server_rows_per_renewal,
        c.poll_rows_per_process, c.poll_rows_per_window, c.poll_p50_ms);
  }
  std::printf("fleet of %d processes, one simulated hour (times in ms):\n%s", kProcesses, table.c_str());
  const Curve& small = curve.front();
  const Curve& large = curve.back();
  // What a window asks of the state store does not grow with the DAG: the same requests,
  // and about the same rows read by the server (which plans each statement as it likes:
  // a scan count would follow its choices of plan, so it is shown, not held to).
  EXPECT_GT(small.requests_per_window, 0) << table;
  EXPECT_LE(large.requests_per_window, small.requests_per_window + 0.01) << table;
  EXPECT_LE(large.rows_per_window, small.rows_per_window * 1.2 + 1) << table;
  // A window's step and a reader's wake-up take about as long at 10,000 tables as at 1,000.
  // Times on a shared machine, so the bounds are loose: they catch a cost that grows with
  // the DAG (ten times the tables), not noise; the benchmark measures the speed.
  EXPECT_LE(large.step_p50_ms, small.step_p50_ms * 3 + 2) << table;
  EXPECT_LE(large.wake_p50_ms, small.wake_p50_ms * 4 + 2) << table;
  // The renewals' rate is the keeper's period (a third of the lease, per process), the
  // same at any size by construction; what a renewal touches is measured: its owner's
  // leases (its tables and its membership), not the fleet's.
  for (const Curve& c : curve) {
    EXPECT_LE(c.rows_per_renewal, static_cast<double>(c.tables) / kProcesses + 2) << table;
  }
  // The states the polls ask for, spread over the hour's windows: flat too. (The rows the
  // server reads for them follow its choice of plan: shown, not held to.)
  EXPECT_GT(small.poll_states_per_window, 0) << table;
  EXPECT_LE(large.poll_states_per_window, small.poll_states_per_window * 1.1) << table;
}

}  // namespace
}  // namespace derived::testing
