// The service's scheduling latency: `derived run` (Service) in-process on a synthetic DAG
// of hourly append tables in layers, driven through one day of hourly arrivals with a
// fixed clock that only the benchmark moves.
//
// BM_ServiceDay/L/W: L layers of W tables (layer 0 reads 1-2 of kSources marker sources,
// layer l reads 1-3 tables of layer l-1), each a small hourly aggregate filtered on
// its window. Every table starts on the day driven, so there is no history to populate.
// For each hour h: the clock moves to the end of h plus 5 minutes, every source is
// marked complete through the end of h, Tick(false) (the schedule boundary), WaitIdle().
//
// Counters (times in ms unless named _s):
//   lat_p50/p99_ms        every table step start that followed a commit of one of its
//                         upstream tables in the same hour: start - the latest such commit
//                         (the "upstream commit to downstream start"). When
//                         every worker is busy this is mostly time in the queue; the
//                         chain (width 1) measures the wake-up itself.
//   build_lat_p50/p99_ms  the same, for the steps that built (the commit that made the
//                         table ready, to the start of the step that used it).
//   mark_lat_p50/p99_ms   layer 0: start - the MarkSource call that preceded it.
//   total_s               wall time of the 24 hours (marks to idle), start-up excluded.
//   sql_sum_s             sum over the day's `_derived.log` rows of finished_at - started_at
//                         (all workers together); sql_per_worker_s = sql_sum_s / workers.
//   ratio                 total_s / sql_sum_s; ratio_per_worker = total_s / sql_per_worker_s.
//   by_hand_s             the baseline: the same hours' table SQL alone, run by hand (ByHandDay);
//                         ratio_by_hand = total_s / by_hand_s; ratio_by_hand_per_worker =
//                         total_s / (by_hand_s / workers), as if the workers divided the SQL
//                         perfectly (a bound no scheduler reaches: read it as the worst case).
//   db_sum_s              (DuckDB only) every statement's time inside DuckDB in those hours, commits and
//                         state reads included (the log's rows end before their commit);
//                         ratio_db_per_worker = total_s / (db_sum_s / workers): 1.0 would
//                         mean the workers never waited and Derived itself cost nothing.
//   steps, builds, idle_steps (steps that found nothing to do: waiting / up_to_date),
//   failed_steps, step_build_ms / step_idle_ms (mean kStarted -> kFinished per kind),
//   startup_s (Service::Start and the first idle wait: compile + 1 step per table).
// A per-hour breakdown goes to stderr.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "compile/compiler.h"
#include "db/duckdb.h"
#include "postgres_server.h"
#include "service/service.h"
#include "time/clock.h"
#include "warehouse/duckdb/warehouse.h"
#include "warehouse/postgres/warehouse.h"

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using derived::ServiceEvent;

constexpr int kSources = 4;
constexpr int kRowsPerHour = 60;  // per source
constexpr int kUsers = 10;
constexpr const char* kDay = "2024-01-02";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "service_bench: " << what << "\n";
  std::exit(1);
}

void Check(const derived::Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.error().ToString());
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest rank; 0 for no samples.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

struct Dag {
  std::vector<std::string> sources;                        // raw.s0, ...
  std::vector<std::string> tables;                         // l00.t000, ...
  std::map<std::string, std::vector<std::string>> inputs;  // table -> upstream tables or sources
};

// The benchmark's warehouse: the DuckDB file in `dir`, or the PostgreSQL database `dsn`.
std::unique_ptr<derived::Warehouse> OpenWarehouse(const fs::path& dir, const std::string& dsn) {
  derived::Result<std::unique_ptr<derived::Warehouse>> wh = derived::Error("");
  if (dsn.empty()) {
    wh = derived::OpenDuckDbWarehouse((dir / "wh.duckdb").string(), derived::db::FileAccess::Unrestricted());
  } else {
    auto options = derived::PostgresConnectOptions(dsn);
    if (!options.ok()) Die(options.error().message);
    wh = derived::OpenPostgresWarehouse(*options);
  }
  if (!wh.ok()) Die("open warehouse: " + wh.error().ToString());
  return std::move(*wh);
}

// Writes the project and its raw data into `dir` (and the PostgreSQL database `dsn`,
// when given). SQL that both engines run.
Dag WriteProject(const fs::path& dir, int layers, int width, int hours, const std::string& dsn, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  Dag dag;
  WriteFile(dir / "derived.yaml", dsn.empty() ? "name: service_bench\nwarehouse: {engine: duckdb, path: wh.duckdb}\n"
                                              : "name: service_bench\nwarehouse: {engine: postgres, dsn: \"" + dsn +
                                                    "\"}\n");
  for (int s = 0; s < kSources; ++s) {
    WriteFile(dir / "sources" / "raw" / fmt::format("s{}.yaml", s),
              "time_column: ts\nfreshness: marker\ncolumns:\n  - {name: user_id, type: BIGINT}\n"
              "  - {name: ts, type: TIMESTAMP}\n  - {name: v, type: double precision}\n");
    dag.sources.push_back(fmt::format("raw.s{}", s));
  }
  std::vector<std::string> previous = dag.sources;
  for (int l = 0; l < layers; ++l) {
    std::vector<std::string> layer;
    for (int i = 0; i < width; ++i) {
      std::string dataset = fmt::format("l{:02}", l), name = fmt::format("t{:03}", i);
      int fan_in = l == 0 ? 1 + static_cast<int>(rng() % 2) : 1 + static_cast<int>(rng() % 3);
      fan_in = std::min<int>(fan_in, static_cast<int>(previous.size()));
      std::vector<std::string> ups;
      // The first input is spread evenly, so every table of the previous layer is read.
      ups.push_back(previous[i % previous.size()]);
      while (static_cast<int>(ups.size()) < fan_in) {
        const std::string& pick = previous[rng() % previous.size()];
        if (std::find(ups.begin(), ups.end(), pick) == ups.end()) ups.push_back(pick);
      }
      std::string inner;
      for (size_t k = 0; k < ups.size(); ++k) {
        inner += fmt::format("    {}SELECT user_id, ts, v FROM {} WHERE ts >= {{{{ window_start }}}} AND ts < "
                             "{{{{ window_end }}}}\n",
                             k ? "UNION ALL " : "", ups[k]);
      }
      WriteFile(dir / "tables" / dataset / (name + ".yaml"),
                fmt::format("schedule: hourly\nstrategy: append\nstart: {}\ntime_column: ts\nsql: |\n"
                            "  SELECT user_id, date_trunc('hour', ts) AS ts, CAST(sum(v) + {} AS double precision) AS v\n"
                            "  FROM (\n{}  ) u\n  GROUP BY 1, 2\n",
                            kDay, i % 5, inner));
      std::string q = dataset + "." + name;
      dag.inputs[q] = ups;
      dag.tables.push_back(q);
      layer.push_back(q);
    }
    previous = layer;
  }
  // The day's raw data, there before the service starts; marks release it hour by hour.
  auto wh = OpenWarehouse(dir, dsn);
  Check(wh->Execute("CREATE SCHEMA IF NOT EXISTS raw"), "create raw");
  for (int s = 0; s < kSources; ++s) {
    Check(wh->Execute(fmt::format(
              "CREATE TABLE raw.s{0} AS SELECT CAST(i % {1} AS BIGINT) AS user_id, TIMESTAMP '{2}' + "
              "(i * 3600000000 / {3}) * INTERVAL '1 microsecond' AS ts, CAST((i * 7 + {0}) % 13 * 0.5 AS double "
              "precision) AS v FROM generate_series(0, {4}) t(i)",
              s, kUsers, kDay, kRowsPerHour, kRowsPerHour * hours - 1)),
          "raw data");
  }
  return dag;
}

struct Event {
  ServiceEvent::Kind kind;
  std::string table;
  std::string status;  // kFinished
  Steady::time_point at;
  int hour;  // -1: start-up, 0: the warm-up hour, 1..n: measured
  std::thread::id worker;
  int process = 0;  // which of the benchmark's services
};

struct HourStats {
  double wall_ms = 0;
  std::vector<double> lat, build_lat, mark_lat, gaps;
  std::vector<double> lat_local, lat_cross;  // lat, by whether the input's commit was in the reader's process
  std::vector<double> step_build, step_idle;
  int steps = 0, builds = 0, idle = 0, failed = 0;
};

void Append(std::vector<double>* to, const std::vector<double>& from) { to->insert(to->end(), from.begin(), from.end()); }

// The baseline: the same day's table SQL alone, by hand on the same engine. A fresh copy of
// the project and its raw data (another directory, another database); hour 0 creates
// every table with CREATE TABLE AS (not timed); then for each measured hour, in
// dependency order, each table's rendered window SQL in one transaction of its own
// (DELETE the window, INSERT the query), one statement after another on one connection.
// Rendering happens before the clock starts. Returns the seconds of the measured hours.
double ByHandDay(const fs::path& dir, int layers, int width, int n_hours, const std::string& dsn,
                 derived::Timestamp day) {
  fs::remove_all(dir);
  Dag dag = WriteProject(dir, layers, width, n_hours + 1, dsn);
  derived::CompileOptions copts;
  copts.now = derived::Timestamp{day.seconds + 3600LL * (n_hours + 1)};
  copts.use_cache = false;
  auto cp = derived::Compile(dir.string(), copts);
  if (!cp.ok()) Die("compile: " + cp.error().ToString());
  if (cp->diags.has_errors()) Die("compile: the project has errors");
  auto window = [&](int h) {
    return derived::Window{derived::Timestamp{day.seconds + 3600LL * h}, derived::Timestamp{day.seconds + 3600LL * (h + 1)}};
  };
  auto render = [&](const std::string& table, int h) {
    const derived::CompiledTable* t = cp->FindTable(table);
    if (!t) Die("no table " + table);
    auto sql = cp->Render(*t, window(h), h == 0);
    if (!sql.ok()) Die("render " + table + ": " + sql.error().ToString());
    return *sql;
  };
  auto wh = OpenWarehouse(dir, dsn);
  for (const auto& t : dag.tables) {
    Check(wh->Execute("CREATE SCHEMA IF NOT EXISTS " + t.substr(0, t.find('.'))), "schema");
    Check(wh->Execute("CREATE TABLE " + t + " AS " + render(t, 0)), "create " + t);
  }
  std::vector<std::string> statements;
  statements.reserve(dag.tables.size() * static_cast<size_t>(n_hours));
  for (int h = 1; h <= n_hours; ++h) {
    for (const auto& t : dag.tables) {
      statements.push_back(fmt::format("BEGIN; DELETE FROM {0} WHERE ts >= {1} AND ts < {2}; INSERT INTO {0} {3}; COMMIT",
                                       t, derived::FormatSqlLiteral(window(h).start),
                                       derived::FormatSqlLiteral(window(h).end), render(t, h)));
    }
  }
  auto t0 = Steady::now();
  for (const auto& sql : statements) Check(wh->Execute(sql), "by hand");
  double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  wh.reset();
  if (!std::getenv("DERIVED_BENCH_KEEP")) fs::remove_all(dir);
  return seconds;
}

// Hour 0 creates every table (its first window); hours 1..n are measured.
void BM_ServiceDay(benchmark::State& state) {
  const int layers = static_cast<int>(state.range(0));
  const int width = static_cast<int>(state.range(1));
  const int n_hours = static_cast<int>(state.range(2));
  const bool postgres = state.range(3) != 0;
  const int processes = static_cast<int>(state.range(4));
  if (processes > 1 && !postgres) Die("several processes need a shared warehouse (postgres:1)");
  const fs::path dir = fs::temp_directory_path() /
                       fmt::format("derived-bench-service-{}x{}{}-{}", layers, width, postgres ? "-pg" : "", processes);
  const derived::Timestamp day = *derived::ParseTimestamp(kDay);
  auto hour_start = [&](int h) { return derived::Timestamp{day.seconds + 3600LL * h}; };

  HourStats all;  // the measured hours together
  double total_s = 0, warmup_s = 0, sql_sum_s = 0, startup_s = 0, db_sum_s = 0, by_hand_s = 0;
  int64_t db_statements = 0;
  int workers = 0;
  int64_t log_rows = 0, bad_log_rows = 0, behind = 0;

  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    const std::string dsn =
        postgres ? bench::PostgresServer::Get().Database(fmt::format("bench_service_{}x{}", layers, width)) : "";
    Dag dag = WriteProject(dir, layers, width, n_hours + 1, dsn);
    std::mutex mu;
    std::condition_variable committed_cv;
    std::vector<Event> events;
    int hour = -1;  // guarded by mu
    std::vector<std::set<std::string>> hour_commits(n_hours + 1);  // tables committed per hour; guarded by mu
    events.reserve(dag.tables.size() * static_cast<size_t>(n_hours + 1) * 8);
    // When each hour's marks were requested, per source.
    std::vector<std::map<std::string, Steady::time_point>> marked(n_hours + 1);
    std::vector<HourStats> hours(n_hours + 1);
    state.ResumeTiming();

    derived::FixedClock clock(day);
    derived::ServiceOptions opts;
    opts.project_dir = dir.string();
    opts.clock = &clock;
    opts.use_cache = false;
    opts.tick_seconds = 0;  // only Tick() moves the schedule
    opts.watch_seconds = 0;
    opts.poll_seconds = 1e9;
    auto t_start = Steady::now();
    // Each service has its own sessions, leases and commit listener, as a process of a
    // fleet does (`derived run --shard K/N`); they share the benchmark's clock, so they
    // live in this one process, and learn of each other's commits only through the server.
    std::vector<std::unique_ptr<derived::Service>> fleet;
    for (int k = 0; k < processes; ++k) {
      derived::ServiceOptions o = opts;
      if (processes > 1) {
        o.shard = {k, processes};
        o.owner = fmt::format("bench-{}", k);
      }
      auto started = derived::Service::Start(o, [&, k](const ServiceEvent& e) {
        if (e.kind == ServiceEvent::Kind::kReloaded || e.kind == ServiceEvent::Kind::kRejected) return;
        std::lock_guard lock(mu);
        events.push_back({e.kind, e.table, e.kind == ServiceEvent::Kind::kFinished ? std::string(derived::StepStatusName(e.outcome.status)) : "", e.at,
                          hour, std::this_thread::get_id(), k});
        if (e.kind == ServiceEvent::Kind::kCommitted && hour >= 0) {
          hour_commits[hour].insert(e.table);
          committed_cv.notify_all();
        }
      });
      if (!started.ok()) Die("start: " + started.error().ToString());
      fleet.push_back(std::move(*started));
    }
    derived::Service* svc = fleet.front().get();
    workers = 0;
    for (auto& f : fleet) workers += f->options().workers;
    // Every table looks once and waits: nothing is marked yet.
    for (auto& f : fleet) f->WaitIdle();
    // An hour is over when every table has committed its window: with one process, when
    // the service is idle; with several, a commit's notice may still be on its way to
    // another process, so the benchmark counts the commits.
    auto wait_hour = [&](int h) {
      if (processes == 1) return svc->WaitIdle();
      std::unique_lock lock(mu);
      if (!committed_cv.wait_for(lock, std::chrono::minutes(10),
                                 [&] { return hour_commits[h].size() >= dag.tables.size(); })) {
        Die(fmt::format("hour {}: {} of {} tables committed in 10 minutes", h, hour_commits[h].size(), dag.tables.size()));
      }
    };
    startup_s += std::chrono::duration<double>(Steady::now() - t_start).count();

    Steady::time_point t_day;
    derived::db::StatementTotals db_before;
    for (int h = 0; h <= n_hours; ++h) {
      derived::Timestamp end = hour_start(h + 1);
      {
        std::lock_guard lock(mu);
        hour = h;
      }
      auto t0 = Steady::now();
      if (h == 1) t_day = t0, db_before = derived::db::Totals();
      clock.Set(derived::Timestamp{end.seconds + 5 * 60});
      for (const auto& s : dag.sources) {
        marked[h][s] = Steady::now();
        Check(svc->MarkSource(s, end), "mark " + s);
      }
      for (auto& f : fleet) f->Tick(false);
      wait_hour(h);
      hours[h].wall_ms = Ms(Steady::now() - t0);
      if (h == 0) warmup_s += hours[h].wall_ms / 1e3;
    }
    total_s += std::chrono::duration<double>(Steady::now() - t_day).count();
    db_sum_s += derived::db::Totals().seconds - db_before.seconds;
    db_statements += derived::db::Totals().count - db_before.count;
    for (auto& f : fleet) f->RequestStop();
    for (auto& f : fleet) f->Wait();
    fleet.clear();

    state.PauseTiming();
    if (const char* path = std::getenv("DERIVED_BENCH_EVENTS")) {
      std::ofstream out(path);
      std::map<std::thread::id, int> ids;
      out << "hour,kind,table,status,worker,ms\n";
      for (const auto& e : events) {
        int id = ids.emplace(e.worker, static_cast<int>(ids.size())).first->second;
        out << e.hour << "," << static_cast<int>(e.kind) << "," << e.table << "," << e.status << "," << id << ","
            << Ms(e.at - t_day) << "\n";
      }
    }
    // --- latencies, from the events -------------------------------------------------
    // Per hour: each table's commit times, in order (events are appended in time order).
    std::vector<std::map<std::string, std::vector<Steady::time_point>>> commits(n_hours + 1);
    std::map<std::string, int> committed_by;  // table -> the process that commits it
    for (const auto& e : events) {
      if (e.kind == ServiceEvent::Kind::kCommitted && e.hour >= 0) commits[e.hour][e.table].push_back(e.at);
      if (e.kind == ServiceEvent::Kind::kCommitted) committed_by[e.table] = e.process;
    }
    // The latest commit (or mark) of any of `ups` at or before `at` in hour h.
    auto latest_commit = [&](int h, const std::vector<std::string>& ups, Steady::time_point at, bool sources,
                             std::string* from = nullptr) -> std::optional<Steady::time_point> {
      std::optional<Steady::time_point> best;
      for (const auto& u : ups) {
        if (sources) {
          auto it = marked[h].find(u);
          if (it != marked[h].end() && it->second <= at && (!best || *best < it->second)) best = it->second;
          continue;
        }
        auto it = commits[h].find(u);
        if (it == commits[h].end()) continue;
        auto pos = std::upper_bound(it->second.begin(), it->second.end(), at);
        if (pos == it->second.begin()) continue;
        --pos;
        if (!best || *best < *pos) {
          best = *pos;
          if (from) *from = u;
        }
      }
      return best;
    };
    std::map<std::string, const Event*> open;                     // table -> its step's kStarted
    std::map<std::thread::id, const Event*> last_finish;          // worker -> its last kFinished
    for (const auto& e : events) {
      if (e.hour < 0) continue;
      HourStats& hs = hours[e.hour];
      if (e.kind == ServiceEvent::Kind::kStarted) {
        open[e.table] = &e;
        // A worker's gap from finishing one step to starting the next, within an hour.
        if (auto it = last_finish.find(e.worker); it != last_finish.end() && it->second->hour == e.hour) {
          hs.gaps.push_back(Ms(e.at - it->second->at) * 1e3);
        }
        continue;
      }
      if (e.kind != ServiceEvent::Kind::kFinished) continue;
      last_finish[e.worker] = &e;
      hs.steps++;
      bool built = e.status == "built";
      bool failed = e.status == "failed" || e.status == "test_failed";
      if (built) hs.builds++;
      else if (failed) hs.failed++;
      else hs.idle++;
      auto it = open.find(e.table);
      if (it == open.end()) continue;  // no session: never started
      const Event& s = *it->second;
      open.erase(it);
      (built ? hs.step_build : hs.step_idle).push_back(Ms(e.at - s.at));
      const auto& ups = dag.inputs.at(s.table);
      bool reads_sources = ups.front().rfind("raw.", 0) == 0;
      std::string from;
      if (auto c = latest_commit(s.hour, ups, s.at, reads_sources, &from)) {
        double ms = Ms(s.at - *c);
        if (reads_sources) {
          if (built) hs.mark_lat.push_back(ms);
        } else {
          hs.lat.push_back(ms);
          (committed_by[from] == s.process ? hs.lat_local : hs.lat_cross).push_back(ms);
          if (built) hs.build_lat.push_back(ms);
        }
      }
    }
    for (int h = 0; h <= n_hours; ++h) {
      const HourStats& hs = hours[h];
      if (h > 0) {
        Append(&all.lat, hs.lat), Append(&all.build_lat, hs.build_lat), Append(&all.mark_lat, hs.mark_lat);
        Append(&all.lat_local, hs.lat_local), Append(&all.lat_cross, hs.lat_cross);
        Append(&all.gaps, hs.gaps), Append(&all.step_build, hs.step_build), Append(&all.step_idle, hs.step_idle);
        all.steps += hs.steps, all.builds += hs.builds, all.idle += hs.idle, all.failed += hs.failed;
      }
      std::cerr << fmt::format(
          "  {}x{} {} {:2}: {:6.0f} ms  steps {:5} built {:5} idle {:4} failed {:3}  lat p50/p99 {:6.1f}/{:7.1f}  "
          "build lat {:6.1f}/{:7.1f}  mark lat {:6.1f}/{:7.1f} ms  gap p50 {:5.0f} us\n",
          layers, width, h ? "hour" : "warm", h, hs.wall_ms, hs.steps, hs.builds, hs.idle, hs.failed,
          Percentile(hs.lat, 50), Percentile(hs.lat, 99), Percentile(hs.build_lat, 50), Percentile(hs.build_lat, 99),
          Percentile(hs.mark_lat, 50), Percentile(hs.mark_lat, 99), Percentile(hs.gaps, 50));
    }

    // --- SQL time alone, from the log ------------------------------------------------
    auto wh = OpenWarehouse(dir, dsn);
    std::string measured = fmt::format("window_start >= {} AND window_start < {}",
                                       derived::FormatSqlLiteral(hour_start(1)),
                                       derived::FormatSqlLiteral(hour_start(n_hours + 1)));
    auto sums = wh->Query(
        "SELECT count(*), coalesce(sum(extract(epoch FROM finished_at - started_at)), 0) FROM _derived.log "
        "WHERE " + measured);
    if (!sums.ok()) Die("log: " + sums.error().ToString());
    log_rows += std::stoll(sums->at(0, 0).value_or("0"));
    sql_sum_s += std::stod(sums->at(0, 1).value_or("0"));
    auto ops = wh->Query(
        "SELECT operation, status, count(*), round(CAST(avg(extract(epoch FROM finished_at - started_at)) * 1e3 AS "
        "numeric), 2) FROM _derived.log GROUP BY 1, 2 ORDER BY 1, 2");
    if (ops.ok()) {
      for (const auto& r : ops->rows) {
        std::cerr << fmt::format("  log (all hours): {} {} x{}, {} ms per row\n", r[0].value_or("NULL"),
                                 r[1].value_or("NULL"), r[2].value_or("NULL"), r[3].value_or("NULL"));
      }
    }
    auto bad = wh->Query("SELECT table_name, operation, error FROM _derived.log WHERE status <> 'success' "
                            "ORDER BY started_at");
    if (bad.ok()) {
      bad_log_rows += static_cast<int64_t>(bad->size());
      for (size_t i = 0; i < std::min<size_t>(5, bad->size()); ++i) {
        std::cerr << "  not success: " << bad->at(i, 0).value_or("") << " " << bad->at(i, 1).value_or("") << ": "
                  << bad->at(i, 2).value_or("") << "\n";
      }
    }
    // Every table should be complete through the last hour driven.
    auto late = wh->Query(fmt::format(
        "SELECT count(*) FROM _derived.state WHERE complete_through IS NULL OR complete_through < {}",
        derived::FormatSqlLiteral(hour_start(n_hours + 1))));
    if (late.ok()) behind += std::stoll(late->at(0, 0).value_or("0"));
    wh.reset();
    if (!std::getenv("DERIVED_BENCH_KEEP")) fs::remove_all(dir);
    const std::string hand_dsn =
        postgres ? bench::PostgresServer::Get().Database(fmt::format("bench_by_hand_{}x{}", layers, width)) : "";
    by_hand_s += ByHandDay(fs::path(dir.string() + "-by-hand"), layers, width, n_hours, hand_dsn, day);
    state.ResumeTiming();
  }

  double n = static_cast<double>(state.iterations());
  double sql_row_ms = log_rows ? sql_sum_s * 1e3 / static_cast<double>(log_rows) : 0;
  int w = std::max(1, workers);
  state.counters["tables"] = static_cast<double>(layers * width);
  state.counters["workers"] = workers;
  state.counters["processes"] = processes;
  state.counters["lat_local_p50_ms"] = Percentile(all.lat_local, 50);
  state.counters["lat_local_p99_ms"] = Percentile(all.lat_local, 99);
  state.counters["lat_cross_p50_ms"] = Percentile(all.lat_cross, 50);
  state.counters["lat_cross_p99_ms"] = Percentile(all.lat_cross, 99);
  state.counters["lat_p50_ms"] = Percentile(all.lat, 50);
  state.counters["lat_p99_ms"] = Percentile(all.lat, 99);
  state.counters["build_lat_p50_ms"] = Percentile(all.build_lat, 50);
  state.counters["build_lat_p99_ms"] = Percentile(all.build_lat, 99);
  state.counters["mark_lat_p50_ms"] = Percentile(all.mark_lat, 50);
  state.counters["mark_lat_p99_ms"] = Percentile(all.mark_lat, 99);
  state.counters["gap_p50_us"] = Percentile(all.gaps, 50);
  state.counters["gap_p99_us"] = Percentile(all.gaps, 99);
  state.counters["total_s"] = total_s / n;
  state.counters["sql_sum_s"] = sql_sum_s / n;
  state.counters["sql_per_worker_s"] = sql_sum_s / n / w;
  state.counters["ratio"] = sql_sum_s > 0 ? total_s / sql_sum_s : 0;
  state.counters["ratio_per_worker"] = sql_sum_s > 0 ? total_s / (sql_sum_s / w) : 0;
  state.counters["by_hand_s"] = by_hand_s / n;
  state.counters["ratio_by_hand"] = by_hand_s > 0 ? total_s / by_hand_s : 0;
  state.counters["ratio_by_hand_per_worker"] = by_hand_s > 0 ? total_s / (by_hand_s / w) : 0;
  state.counters["db_sum_s"] = db_sum_s / n;
  state.counters["db_statements"] = static_cast<double>(db_statements) / n;
  state.counters["ratio_db_per_worker"] = db_sum_s > 0 ? total_s / (db_sum_s / w) : 0;
  state.counters["startup_s"] = startup_s / n;
  state.counters["warmup_s"] = warmup_s / n;
  state.counters["steps"] = all.steps / n;
  state.counters["builds"] = all.builds / n;
  state.counters["idle_steps"] = all.idle / n;
  state.counters["failed_steps"] = all.failed / n;
  state.counters["log_rows"] = static_cast<double>(log_rows) / n;
  state.counters["log_not_success"] = static_cast<double>(bad_log_rows) / n;
  state.counters["tables_behind"] = static_cast<double>(behind) / n;
  state.counters["sql_row_ms"] = sql_row_ms;
  state.counters["step_build_ms"] = Mean(all.step_build);
  state.counters["step_idle_ms"] = Mean(all.step_idle);
  state.counters["step_minus_sql_ms"] = Mean(all.step_build) - sql_row_ms;
}
// A day of 200 tables, of 2,000 tables, and of a chain of 30 (one table per layer: every
// worker is free when a commit wakes the next table, so lat_* is the wake-up alone).
BENCHMARK(BM_ServiceDay)
    ->ArgNames({"layers", "width", "hours", "postgres", "processes"})
    ->Args({30, 1, 24, 0, 1})
    ->Args({20, 10, 24, 0, 1})
    ->Args({20, 100, 24, 0, 1})
    ->Args({30, 1, 24, 1, 1})
    ->Args({20, 10, 24, 1, 1})
    // A fleet: the chain's wake-ups across processes against in one, and the 2,000-table
    // day with 1, 4 and 16 processes.
    ->Args({30, 1, 24, 1, 4})
    ->Args({20, 100, 24, 1, 1})
    ->Args({20, 100, 24, 1, 4})
    ->Args({20, 100, 24, 1, 16})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
