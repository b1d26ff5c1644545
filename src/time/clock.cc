#include "time/clock.h"

#include <chrono>

namespace derived {

Timestamp SystemClock::Now() const {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return {static_cast<int64_t>(now.time_since_epoch().count())};
}

Timestamp FixedClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void FixedClock::Set(Timestamp now) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = now;
}

void FixedClock::Advance(Duration d, int64_t times) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = Add(now_, d, times);
}

void FixedClock::AdvanceSeconds(int64_t seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  now_.seconds += seconds;
}

MonotonicClock::time_point ManualMonotonicClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void ManualMonotonicClock::Advance(std::chrono::steady_clock::duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

}  // namespace derived
