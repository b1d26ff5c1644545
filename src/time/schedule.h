// Schedules, durations and the calendar arithmetic that aligns runs to period boundaries.
// Everything is UTC: a "day" is a UTC day and a week starts Monday 00:00 UTC (ISO 8601).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "time/timestamp.h"
#include "util/status.h"

namespace derived {

enum class Schedule { kHourly, kDaily, kWeekly, kMonthly };

// "hourly", "daily", "weekly", "monthly" (case-insensitive). The error lists the valid
// values and suggests the closest one.
Result<Schedule> ParseSchedule(std::string_view text);
std::string_view ScheduleName(Schedule schedule);  // "hourly", ...

enum class TimeUnit { kHour, kDay, kWeek, kMonth };

// A calendar length: months are calendar months, not a fixed number of seconds.
struct Duration {
  int64_t count = 1;
  TimeUnit unit = TimeUnit::kDay;
  bool operator==(const Duration&) const = default;
};

// The longest duration ParseDuration accepts, as a count of each unit: 100 years. A window
// or retention longer than a century reaches before any data a warehouse holds, and the
// bound keeps every Add() result far from overflow and within years 0000-9999 for any
// user timestamp (see ParseUserTimestamp).
inline constexpr int64_t kMaxDurationHours = 876'600;
inline constexpr int64_t kMaxDurationDays = 36'525;
inline constexpr int64_t kMaxDurationWeeks = 5'218;
inline constexpr int64_t kMaxDurationMonths = 1'200;

// "1 hour", "3 days", "2 weeks", "6 months"; singular or plural, case-insensitive, the space
// optional ("3days"), hours, days and weeks also as h, d and w ("3d"). The count must be
// at least 1 and the whole at most 100 years; empty text is an error.
Result<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);  // "3 days", "1 hour"

Duration PeriodOf(Schedule schedule);  // hourly -> 1 hour, ..., monthly -> 1 month

// t + d * times (times may be negative). Months move the calendar month and clamp the day
// to the month's end (2024-01-31 + 1 month = 2024-02-29), keeping the time of day.
Timestamp Add(Timestamp t, Duration d, int64_t times = 1);

// Start of the period holding t: the hour, the day, the ISO week (Monday 00:00) or the
// calendar month. A t already on a boundary is returned unchanged.
Timestamp FloorToPeriod(Timestamp t, Schedule schedule);

// The first period start strictly after t.
Timestamp NextBoundary(Timestamp t, Schedule schedule);

// A half-open interval [start, end).
struct Window {
  Timestamp start;
  Timestamp end;
  bool operator==(const Window&) const = default;
};

// The data a run for the period ending at `period_end` reads: [period_end - window, period_end).
Window WindowEndingAt(Timestamp period_end, Duration window);

// Every whole schedule period [p, p + period) with floor(from) <= p and p + period <= to,
// in order. A trailing partial period is left out; empty when nothing fits.
std::vector<Window> PeriodsBetween(Timestamp from, Timestamp to, Schedule schedule);
// PeriodsBetween(from, to, schedule).size(), without listing them.
int64_t CountPeriods(Timestamp from, Timestamp to, Schedule schedule);

}  // namespace derived
