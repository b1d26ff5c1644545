// Internal to src/time: conversions between Timestamp and the proleptic Gregorian calendar.
#pragma once

#include <chrono>
#include <cstdint>

#include "time/timestamp.h"

namespace derived::civil {

inline constexpr int64_t kSecondsPerHour = 3600;
inline constexpr int64_t kSecondsPerDay = 86400;

// Division rounding toward negative infinity, so 1969 times land on the right day.
// REQUIRES: b > 0.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

struct CivilTime {
  std::chrono::year_month_day date;
  int64_t second_of_day = 0;  // 0..86399
};

inline std::chrono::sys_days DayOf(Timestamp t) {
  return std::chrono::sys_days{std::chrono::days{FloorDiv(t.seconds, kSecondsPerDay)}};
}

inline CivilTime ToCivil(Timestamp t) {
  std::chrono::sys_days day = DayOf(t);
  return {std::chrono::year_month_day{day}, t.seconds - day.time_since_epoch().count() * kSecondsPerDay};
}

inline Timestamp FromDay(std::chrono::sys_days day, int64_t second_of_day = 0) {
  return {static_cast<int64_t>(day.time_since_epoch().count()) * kSecondsPerDay + second_of_day};
}

// Last day of the month, e.g. 29 for 2024-02.
inline unsigned LastDayOf(std::chrono::year y, std::chrono::month m) {
  return static_cast<unsigned>(std::chrono::year_month_day_last{y, std::chrono::month_day_last{m}}.day());
}

}  // namespace derived::civil
