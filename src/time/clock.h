// Where "now" comes from, behind an interface so tests and simulations can fix the time.
#pragma once

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

}  // namespace derived
