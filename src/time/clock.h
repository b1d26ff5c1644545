// Where "now" comes from, behind an interface so tests and simulations can fix the time.
#pragma once

#include <chrono>
#include <mutex>

#include "time/schedule.h"
#include "time/timestamp.h"

namespace derived {

// Implementations must be safe to call from several threads at once.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

// The real wall clock in UTC, truncated to whole seconds.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// Stands still until told to move. Thread-safe, so a test may move it while workers read it.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(Timestamp now = {}) : now_(now) {}

  Timestamp Now() const override;
  void Set(Timestamp now);
  void Advance(Duration d, int64_t times = 1);  // calendar-aware, as Add()
  void AdvanceSeconds(int64_t seconds);

 private:
  mutable std::mutex mu_;
  Timestamp now_;  // guarded by mu_
};

// Monotonic time, for what waits a span of time (retries, backoff, polls) rather than for
// a calendar time: behind an interface so tests move it instead of sleeping. Thread-safe.
class MonotonicClock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual time_point Now() const = 0;
};

// std::chrono::steady_clock.
class SteadyMonotonicClock final : public MonotonicClock {
 public:
  time_point Now() const override { return std::chrono::steady_clock::now(); }
};

// Moves only when told to, from the real clock's reading when made.
class ManualMonotonicClock final : public MonotonicClock {
 public:
  ManualMonotonicClock() : now_(std::chrono::steady_clock::now()) {}
  time_point Now() const override;
  void Advance(std::chrono::steady_clock::duration d);

 private:
  mutable std::mutex mu_;
  time_point now_;  // guarded by mu_
};

}  // namespace derived
