// Runs independent work items on a few threads. Used where per-item work (parsing a
// file, rendering a template, parsing SQL) is embarrassingly parallel.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace derived {

// The default degree of parallelism: the machine's cores.
inline int DefaultThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

// Calls fn(worker, i) for every i in [0, n) across `threads` workers (0 = default).
// Each worker has a stable index in [0, threads) so it can own per-thread state, such
// as a database connection. fn must not throw.
inline void ParallelFor(size_t n, int threads, const std::function<void(int worker, size_t i)>& fn) {
  if (threads <= 0) threads = DefaultThreads();
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), std::max<size_t>(n, 1)));
  std::atomic<size_t> next{0};
  auto run = [&](int worker) {
    for (size_t i = next++; i < n; i = next++) fn(worker, i);
  };
  if (threads == 1) {
    run(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
}

}  // namespace derived
