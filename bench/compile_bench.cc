// Benchmark of `derived validate`'s work: load + render + parse + DAG (+ type-check) on
// synthetic projects of 1,000 and 10,000 tables, cold (no cache) and warm (cache filled
// by a previous run). Per-stage times are reported as counters (ms).
//
//   derived_bench                              run the benchmarks
//   derived_bench --generate DIR N [SEED]      just write a synthetic project
#include <benchmark/benchmark.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "compile/compiler.h"
#include "synthetic_project.h"

namespace {

namespace fs = std::filesystem;

// Projects are generated once per size and reused across benchmarks.
const std::string& ProjectOf(int n) {
  static std::map<int, std::string> dirs;
  auto it = dirs.find(n);
  if (it != dirs.end()) return it->second;
  std::string dir = (fs::temp_directory_path() / ("derived-bench-" + std::to_string(n))).string();
  fs::remove_all(dir);
  auto stats = derived::bench::GenerateProject(dir, n);
  std::cerr << "generated " << dir << ": " << stats.tables << " tables, SQL " << stats.min_sql_lines << "-"
            << stats.max_sql_lines << " lines (avg " << stats.avg_sql_lines << "), fan-in up to " << stats.max_fan_in
            << "\n";
  return dirs.emplace(n, dir).first->second;
}

void RunCompile(benchmark::State& state, bool type_check, bool warm) {
  int n = static_cast<int>(state.range(0));
  const std::string& dir = ProjectOf(n);
  fs::path cache = fs::path(dir) / ".derived" / "cache.json";
  derived::CompileOptions opts;
  opts.type_check = type_check;
  opts.now = derived::Timestamp{1717200000};
  if (warm) {
    auto prime = derived::Compile(dir, opts);  // fills the cache
    if (!prime.ok() || prime->diags.has_errors()) {
      state.SkipWithError("the synthetic project does not validate");
      return;
    }
  }
  derived::StageTimings sum;
  for (auto _ : state) {
    if (!warm) {
      state.PauseTiming();
      fs::remove(cache);
      state.ResumeTiming();
    }
    auto cp = derived::Compile(dir, opts);
    if (!cp.ok() || cp->diags.has_errors()) {
      state.SkipWithError(cp.ok() ? cp->diags.all().front().ToString().c_str() : cp.error().message.c_str());
      return;
    }
    sum.load_ms += cp->timings.load_ms;
    sum.render_ms += cp->timings.render_ms;
    sum.parse_ms += cp->timings.parse_ms;
    sum.dag_ms += cp->timings.dag_ms;
    sum.typecheck_ms += cp->timings.typecheck_ms;
  }
  double iters = static_cast<double>(state.iterations());
  state.counters["load_ms"] = sum.load_ms / iters;
  state.counters["render_ms"] = sum.render_ms / iters;
  state.counters["parse_ms"] = sum.parse_ms / iters;
  state.counters["dag_ms"] = sum.dag_ms / iters;
  state.counters["typecheck_ms"] = sum.typecheck_ms / iters;
  state.counters["tables"] = n;
}

void BM_DagCold(benchmark::State& s) { RunCompile(s, false, false); }
void BM_DagWarm(benchmark::State& s) { RunCompile(s, false, true); }
void BM_ValidateCold(benchmark::State& s) { RunCompile(s, true, false); }
void BM_ValidateWarm(benchmark::State& s) { RunCompile(s, true, true); }

BENCHMARK(BM_DagCold)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_DagWarm)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_ValidateCold)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_ValidateWarm)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "--generate") {
    uint32_t seed = argc >= 5 ? static_cast<uint32_t>(std::stoul(argv[4])) : 42;
    auto stats = derived::bench::GenerateProject(argv[2], std::stoi(argv[3]), seed);
    std::cout << "wrote " << stats.tables << " tables and " << stats.sources << " sources to " << argv[2]
              << " (SQL " << stats.min_sql_lines << "-" << stats.max_sql_lines << " lines, avg "
              << stats.avg_sql_lines << ")\n";
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
