// The build engine's overhead on PostgreSQL, over the same SQL run by hand on the same
// server in the same run.
//
// BM_PostgresWindowOverhead/R/A: one hourly append table built window by window (batch:
//   1) over raw data with R rows per hour (A: an hourly aggregate per user instead of a
//   row per row), against a hand-written loop over the same rendered SQL per window
//   (DELETE the window, INSERT the query, one transaction each) into a table of the same
//   shape. Counters: ms per window for both, the difference and the ratio. The baseline
//   is the table's SQL alone: Derived's own statements (the window guard, state, log,
//   the table's lock) are the overhead.
//
// The server is tests/postgres/server.sh's, started in a temporary directory for the run
// and stopped after it.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "compile/compiler.h"
#include "synthetic_project.h"
#include "engine/engine.h"
#include "util/strings.h"
#include "postgres_server.h"
#include "warehouse/postgres/pq.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

void Check(const derived::Status& st, const char* what) {
  if (!st.ok()) {
    std::cerr << what << ": " << st.error().ToString() << "\n";
    std::exit(1);
  }
}

const int kWindows = 48;

void BM_PostgresWindowOverhead(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const bool aggregate = state.range(1) != 0;
  const std::string db = fmt::format("bench_windows_{}{}", rows, aggregate ? "_agg" : "");
  const std::string dsn = bench::PostgresServer::Get().Database(db);
  fs::path dir = fs::temp_directory_path() / ("derived-bench-pg-" + db);
  fs::remove_all(dir);
  derived::bench::WriteWindowProject(dir.string(), "{engine: postgres, dsn: \"" + dsn + "\"}", aggregate);
  auto conn = derived::pg::Connection::Open(dsn);
  if (!conn.ok()) std::exit(1);
  derived::pg::Connection& c = **conn;
  Check(c.Execute(fmt::format(
            "CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT i % 1000 AS user_id, TIMESTAMP '2024-01-01' + "
            "(i * 3600000000 / {}) * INTERVAL '1 microsecond' AS ts, ((i % 17) * 0.5)::double precision AS amount "
            "FROM generate_series(0, {}) i; CREATE INDEX ON raw.events (ts); ANALYZE raw.events",
            rows, rows * kWindows - 1)),
        "seed");
  double derived_s = 0, raw_s = 0;
  auto now = *derived::ParseTimestamp("2024-01-03");
  for (auto _ : state) {
    Check(c.Execute("DROP SCHEMA IF EXISTS core CASCADE; DROP SCHEMA IF EXISTS _derived CASCADE; DROP SCHEMA IF "
                    "EXISTS by_hand CASCADE"),
          "reset");
    derived::CompileOptions opts;
    opts.now = now;
    opts.use_cache = false;
    auto cp = derived::Compile(dir.string(), opts);
    if (!cp.ok() || cp->diags.has_errors()) {
      std::cerr << "compile failed\n";
      std::exit(1);
    }
    {
      auto engine = derived::Engine::Open(&*cp, now);
      if (!engine.ok()) std::exit(1);
      Check((*engine)->MarkSource("raw.events", now), "mark");
      auto t0 = Clock::now();
      auto report = (*engine)->RunOnce("", nullptr);
      derived_s += Seconds(t0);
      if (!report.ok() || report->failures() || report->tables.at(0).windows != kWindows) {
        std::cerr << "derived run failed: "
                  << (report.ok() ? std::string(derived::StepStatusName(report->tables.at(0).status)) + " " + report->tables.at(0).detail
                                  : report.error().ToString())
                  << "\n";
        std::exit(1);
      }
    }
    // The same SQL by hand, one transaction per window, into a table of the same shape.
    Check(c.Execute("CREATE SCHEMA by_hand; CREATE TABLE by_hand.events (LIKE core.events INCLUDING ALL)"), "create");
    const derived::CompiledTable& t = cp->tables.at(0);
    auto t0 = Clock::now();
    for (const auto& w : derived::PeriodsBetween(*derived::ParseTimestamp("2024-01-01"), now,
                                                 derived::Schedule::kHourly)) {
      auto sql = cp->Render(t, w, false);
      Check(c.Execute("BEGIN; DELETE FROM by_hand.events WHERE ts >= " + derived::FormatSqlLiteral(w.start) +
                      " AND ts < " + derived::FormatSqlLiteral(w.end) + "; INSERT INTO by_hand.events " + *sql +
                      "; COMMIT"),
            "raw window");
    }
    raw_s += Seconds(t0);
  }
  double n = static_cast<double>(state.iterations()) * kWindows;
  state.counters["derived_ms_per_window"] = derived_s / n * 1e3;
  state.counters["raw_ms_per_window"] = raw_s / n * 1e3;
  state.counters["overhead_ms_per_window"] = (derived_s - raw_s) / n * 1e3;
  state.counters["ratio"] = derived_s / raw_s;
  fs::remove_all(dir);
}
BENCHMARK(BM_PostgresWindowOverhead)
    ->Args({100, 0})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
