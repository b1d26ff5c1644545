// The build engine's overhead over running the same SQL directly on DuckDB.
//
// BM_WindowOverhead/R: one hourly append table built window by window (batch: 1) over
//   raw data with R rows per hour, against a hand-written loop that runs the same
//   rendered SQL per window (DELETE the window, INSERT the query, one transaction each).
//   Counters: ms per window for both, the difference, and the ratio.
// BM_DemoInitialPopulation/S: `run --once` on the Discord demo at scale S against
//   running each table's SQL once over its whole history with CREATE TABLE AS.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "compile/compiler.h"
#include "synthetic_project.h"
#include "db/duckdb.h"
#include "engine/engine.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void Check(const derived::Status& st, const char* what) {
  if (!st.ok()) {
    std::cerr << what << ": " << st.error().ToString() << "\n";
    std::exit(1);
  }
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// Opens a warehouse file directly, as a hand-written script would.
struct Direct {
  std::unique_ptr<derived::db::Database> db;
  std::unique_ptr<derived::db::Connection> conn;
  explicit Direct(const std::string& path, bool tuned = false) {
    derived::db::OpenOptions options;
    if (tuned) options.config = {{"checkpoint_threshold", "256MB"}};
    auto d = derived::db::Database::Open(path, options);
    if (!d.ok()) std::exit(1);
    db = std::move(*d);
    auto c = derived::db::Connection::Open(*db);
    if (!c.ok()) std::exit(1);
    conn = std::move(*c);
  }
};

const int kWindows = 48;

void BM_WindowOverhead(benchmark::State& state) {
  int64_t rows = state.range(0);
  bool aggregate = state.range(1) != 0;
  fs::path dir = fs::temp_directory_path() / ("derived-bench-windows-" + std::to_string(rows) + (aggregate ? "-agg" : ""));
  fs::remove_all(dir);
  derived::bench::WriteWindowProject(dir.string(), "{engine: duckdb, path: wh.duckdb}", aggregate);
  std::string seed_path = (dir / "seed.duckdb").string();
  {
    Direct d(seed_path);
    Check(d.conn->Execute("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT i % 1000 AS user_id, "
                          "TIMESTAMP '2024-01-01' + to_microseconds((i * 3600000000 // " +
                              std::to_string(rows) + ")) AS ts, ((i % 17) * 0.5)::DOUBLE AS amount FROM range(0, " +
                              std::to_string(rows * kWindows) + ") t(i)"),
          "seed");
  }
  double derived_s = 0, raw_s = 0, raw_tuned_s = 0;
  auto now = *derived::ParseTimestamp("2024-01-03");
  for (auto _ : state) {
    // Derived: compile, open, mark, run.
    fs::copy_file(seed_path, dir / "wh.duckdb", fs::copy_options::overwrite_existing);
    derived::CompileOptions opts;
    opts.now = now;
    opts.use_cache = false;
    auto cp = derived::Compile(dir.string(), opts);
    if (!cp.ok()) std::exit(1);
    {
      auto engine = derived::Engine::Open(&*cp, now);
      if (!engine.ok()) std::exit(1);
      Check((*engine)->MarkSource("raw.events", *derived::ParseTimestamp("2024-01-03")), "mark");
      auto t0 = Clock::now();
      auto report = (*engine)->RunOnce("", nullptr);
      // Closing checkpoints what the run deferred: that work is part of the run.
      engine->reset();
      derived_s += Seconds(t0);
      if (!report.ok() || report->failures() || report->tables.at(0).windows != kWindows) {
        std::cerr << "derived run failed: "
                  << (report.ok() ? std::string(derived::StepStatusName(report->tables.at(0).status)) + " " + report->tables.at(0).detail
                                  : report.error().ToString())
                  << "\n";
        std::exit(1);
      }
    }
    // The same SQL by hand, one transaction per window: with DuckDB's defaults, and with
    // the checkpoint threshold Derived sets, so the engine's own cost shows alone.
    for (bool tuned : {false, true}) {
      fs::copy_file(seed_path, dir / "direct.duckdb", fs::copy_options::overwrite_existing);
      auto d = std::make_unique<Direct>((dir / "direct.duckdb").string(), tuned);
      const derived::CompiledTable& t = cp->tables.at(0);
      Check(d->conn->Execute("CREATE SCHEMA core; CREATE TABLE core.events (user_id BIGINT, ts TIMESTAMP, " +
                             std::string(aggregate ? "n BIGINT, " : "") + "amount DOUBLE)"),
            "create");
      auto t0 = Clock::now();
      for (const auto& w : derived::PeriodsBetween(*derived::ParseTimestamp("2024-01-01"), now,
                                                   derived::Schedule::kHourly)) {
        auto sql = cp->Render(t, w, false);
        Check(d->conn->Execute("BEGIN; DELETE FROM core.events WHERE ts >= " + derived::FormatSqlLiteral(w.start) +
                               " AND ts < " + derived::FormatSqlLiteral(w.end) + "; INSERT INTO core.events " +
                               *sql + "; COMMIT"),
              "raw window");
      }
      d.reset();  // closing checkpoints, as for Derived
      (tuned ? raw_tuned_s : raw_s) += Seconds(t0);
    }
  }
  double n = static_cast<double>(state.iterations()) * kWindows;
  state.counters["derived_ms_per_window"] = derived_s / n * 1e3;
  state.counters["raw_ms_per_window"] = raw_s / n * 1e3;
  state.counters["overhead_ms_per_window"] = (derived_s - raw_s) / n * 1e3;
  state.counters["ratio"] = derived_s / raw_s;
  state.counters["raw_tuned_ms_per_window"] = raw_tuned_s / n * 1e3;
  state.counters["overhead_vs_tuned_ms"] = (derived_s - raw_tuned_s) / n * 1e3;
  state.counters["ratio_vs_tuned"] = derived_s / raw_tuned_s;
  fs::remove_all(dir);
}
BENCHMARK(BM_WindowOverhead)
    ->Args({100, 0})
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_DemoInitialPopulation(benchmark::State& state) {
  int scale = static_cast<int>(state.range(0));
  fs::path dir = fs::temp_directory_path() / ("derived-bench-demo-" + std::to_string(scale));
  fs::remove_all(dir);
  fs::copy(fs::path(DERIVED_SOURCE_DIR) / "examples/discord", dir, fs::copy_options::recursive);
  fs::remove_all(dir / "generator");
  fs::remove(dir / "warehouse.duckdb");
  std::string seed_path = (dir / "seed.duckdb").string();
  std::string gen = std::string(DISCORD_DATA) + " --warehouse " + seed_path + " --days 31 --scale " +
                    std::to_string(scale) + " > /dev/null";
  if (std::system(gen.c_str()) != 0) std::exit(1);
  auto now = *derived::ParseTimestamp("2024-02-01T06:00:00Z");
  auto end = *derived::ParseTimestamp("2024-02-01");
  double derived_s = 0, raw_s = 0;
  for (auto _ : state) {
    fs::copy_file(seed_path, dir / "warehouse.duckdb", fs::copy_options::overwrite_existing);
    derived::CompileOptions opts;
    opts.now = now;
    opts.use_cache = false;
    auto cp = derived::Compile(dir.string(), opts);
    if (!cp.ok() || cp->diags.has_errors()) std::exit(1);
    {
      auto engine = derived::Engine::Open(&*cp, now);
      if (!engine.ok()) std::exit(1);
      for (const char* s : {"raw.users", "raw.messages", "raw.voice_sessions", "raw.server_joins"}) {
        Check((*engine)->MarkSource(s, end), "mark");
      }
      auto t0 = Clock::now();
      auto report = (*engine)->RunOnce("", nullptr);
      derived_s += Seconds(t0);
      if (!report.ok() || report->failures()) std::exit(1);
    }
    // Each table's SQL once over its whole history, in dependency order.
    fs::copy_file(seed_path, dir / "direct.duckdb", fs::copy_options::overwrite_existing);
    Direct d((dir / "direct.duckdb").string());
    auto t0 = Clock::now();
    for (int id : cp->order) {
      const derived::CompiledTable* t = cp->FindTable(cp->graph.node(id).name);
      if (!t) continue;
      const derived::TableDef& def = cp->def(*t);
      derived::Window w{def.start ? *def.start : derived::Timestamp{}, end};
      if (def.strategy == derived::Strategy::kReplace) w = {derived::Add(end, def.window, -1), end};
      auto sql = cp->Render(*t, w, true);
      Check(d.conn->Execute("CREATE SCHEMA IF NOT EXISTS " + def.dataset + "; SET search_path = '" + def.dataset +
                            "'; CREATE TABLE " + def.qualified_name() + " AS " + *sql),
            def.qualified_name().c_str());
    }
    raw_s += Seconds(t0);
  }
  state.counters["derived_s"] = derived_s / static_cast<double>(state.iterations());
  state.counters["raw_sql_s"] = raw_s / static_cast<double>(state.iterations());
  state.counters["ratio"] = derived_s / raw_s;
  fs::remove_all(dir);
}
BENCHMARK(BM_DemoInitialPopulation)->Arg(1)->Arg(10)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
