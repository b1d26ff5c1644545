#include "time/schedule.h"

#include <array>
#include <cctype>
#include <charconv>

#include "time/civil.h"
#include "util/strings.h"

namespace derived {
namespace {

constexpr std::array<Schedule, 4> kSchedules = {Schedule::kHourly, Schedule::kDaily, Schedule::kWeekly,
                                                Schedule::kMonthly};

struct UnitName {
  TimeUnit unit;
  std::string_view singular;
  std::string_view plural;
  int64_t max_count;  // 100 years of this unit
  std::string_view short_name;  // "3d"; a month has none ("m" could be read as minutes)
};
constexpr std::array<UnitName, 4> kUnits = {{{TimeUnit::kHour, "hour", "hours", kMaxDurationHours, "h"},
                                             {TimeUnit::kDay, "day", "days", kMaxDurationDays, "d"},
                                             {TimeUnit::kWeek, "week", "weeks", kMaxDurationWeeks, "w"},
                                             {TimeUnit::kMonth, "month", "months", kMaxDurationMonths, ""}}};

const UnitName& NameOf(TimeUnit unit) {
  for (const auto& u : kUnits) {
    if (u.unit == unit) return u;
  }
  return kUnits[1];  // unreachable: every TimeUnit is listed
}

Error InvalidDuration(std::string_view text, const std::string& why) {
  return Error("invalid duration '" + std::string(text) + "': " + why +
               "; expected a count and a unit like '1 hour', '3 days', '2 weeks' or '6 months'");
}

}  // namespace

Result<Schedule> ParseSchedule(std::string_view text) {
  std::string lower = ToLower(Trim(text));
  std::vector<std::string> names;
  for (Schedule s : kSchedules) {
    if (lower == ScheduleName(s)) return s;
    names.emplace_back(ScheduleName(s));
  }
  if (lower.empty()) return Error("empty schedule; expected one of: " + Join(names, ", "));
  return Error("unknown schedule '" + std::string(text) + "'" + DidYouMean(lower, names) +
               "; expected one of: " + Join(names, ", "));
}

std::string_view ScheduleName(Schedule schedule) {
  switch (schedule) {
    case Schedule::kHourly:
      return "hourly";
    case Schedule::kDaily:
      return "daily";
    case Schedule::kWeekly:
      return "weekly";
    case Schedule::kMonthly:
      return "monthly";
  }
  return "daily";  // unreachable
}

Result<Duration> ParseDuration(std::string_view text) {
  std::string s = ToLower(Trim(text));
  if (s.empty()) return InvalidDuration(text, "it is empty");
  size_t digits_end = 0;
  while (digits_end < s.size() && std::isdigit(static_cast<unsigned char>(s[digits_end]))) ++digits_end;
  if (digits_end == 0) {
    if (!s.empty() && s[0] == '-') return InvalidDuration(text, "the count must be at least 1");
    return InvalidDuration(text, "missing count");
  }
  if (digits_end < s.size() && (s[digits_end] == '.' || s[digits_end] == ',')) {
    return InvalidDuration(text, "the count must be a whole number");
  }
  // A count too long for int64 is certainly longer than 100 years of any unit.
  int64_t count = INT64_MAX;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits_end, count);
  if (ec != std::errc() && ec != std::errc::result_out_of_range) return InvalidDuration(text, "missing count");
  if (count < 1) return InvalidDuration(text, "the count must be at least 1");

  std::string unit = Trim(std::string_view(s).substr(digits_end));
  if (unit.empty()) return InvalidDuration(text, "missing unit");
  std::vector<std::string> candidates;
  for (const auto& u : kUnits) {
    if (unit == u.singular || unit == u.plural || (!u.short_name.empty() && unit == u.short_name)) {
      if (count > u.max_count) {
        return InvalidDuration(text, "it is longer than 100 years (at most " + std::to_string(u.max_count) + " " +
                                         std::string(u.plural) + ")");
      }
      return Duration{count, u.unit};
    }
    candidates.emplace_back(count == 1 ? u.singular : u.plural);
  }
  return InvalidDuration(text, "unknown unit '" + unit + "'" + DidYouMean(unit, candidates));
}

std::string FormatDuration(Duration d) {
  const UnitName& u = NameOf(d.unit);
  return std::to_string(d.count) + " " + std::string(d.count == 1 ? u.singular : u.plural);
}

Duration PeriodOf(Schedule schedule) {
  switch (schedule) {
    case Schedule::kHourly:
      return {1, TimeUnit::kHour};
    case Schedule::kDaily:
      return {1, TimeUnit::kDay};
    case Schedule::kWeekly:
      return {1, TimeUnit::kWeek};
    case Schedule::kMonthly:
      return {1, TimeUnit::kMonth};
  }
  return {1, TimeUnit::kDay};  // unreachable
}

Timestamp Add(Timestamp t, Duration d, int64_t times) {
  int64_t n = d.count * times;
  switch (d.unit) {
    case TimeUnit::kHour:
      return {t.seconds + n * civil::kSecondsPerHour};
    case TimeUnit::kDay:
      return {t.seconds + n * civil::kSecondsPerDay};
    case TimeUnit::kWeek:
      return {t.seconds + n * 7 * civil::kSecondsPerDay};
    case TimeUnit::kMonth:
      break;
  }
  // Count months from year 0 so negative steps cross year boundaries with plain arithmetic.
  civil::CivilTime ct = civil::ToCivil(t);
  int64_t index =
      int64_t{static_cast<int>(ct.date.year())} * 12 + (static_cast<unsigned>(ct.date.month()) - 1) + n;
  int64_t year_index = civil::FloorDiv(index, 12);
  std::chrono::year y{static_cast<int>(year_index)};
  std::chrono::month m{static_cast<unsigned>(index - year_index * 12 + 1)};
  unsigned day = std::min(static_cast<unsigned>(ct.date.day()), civil::LastDayOf(y, m));
  return civil::FromDay(std::chrono::sys_days{y / m / std::chrono::day{day}}, ct.second_of_day);
}

Timestamp FloorToPeriod(Timestamp t, Schedule schedule) {
  switch (schedule) {
    case Schedule::kHourly:
      return {civil::FloorDiv(t.seconds, civil::kSecondsPerHour) * civil::kSecondsPerHour};
    case Schedule::kDaily:
      return civil::FromDay(civil::DayOf(t));
    case Schedule::kWeekly: {
      std::chrono::sys_days day = civil::DayOf(t);
      unsigned since_monday = std::chrono::weekday{day}.iso_encoding() - 1;  // Monday = 1 ... Sunday = 7
      return civil::FromDay(day - std::chrono::days{since_monday});
    }
    case Schedule::kMonthly: {
      std::chrono::year_month_day date = civil::ToCivil(t).date;
      return civil::FromDay(std::chrono::sys_days{date.year() / date.month() / 1});
    }
  }
  return t;  // unreachable
}

Timestamp NextBoundary(Timestamp t, Schedule schedule) {
  return Add(FloorToPeriod(t, schedule), PeriodOf(schedule));
}

Window WindowEndingAt(Timestamp period_end, Duration window) {
  return {Add(period_end, window, -1), period_end};
}

int64_t CountPeriods(Timestamp from, Timestamp to, Schedule schedule) {
  Timestamp start = FloorToPeriod(from, schedule);
  if (!(start < to)) return 0;
  Timestamp last = FloorToPeriod(to, schedule);  // whole periods end at or before `to`
  if (schedule == Schedule::kMonthly) {
    auto a = civil::ToCivil(start).date, b = civil::ToCivil(last).date;
    return (int{b.year()} - int{a.year()}) * 12 + (static_cast<int>(unsigned{b.month()}) - static_cast<int>(unsigned{a.month()}));
  }
  int64_t period = schedule == Schedule::kHourly ? civil::kSecondsPerHour
                   : schedule == Schedule::kDaily ? civil::kSecondsPerDay
                                                  : 7 * civil::kSecondsPerDay;
  return (last.seconds - start.seconds) / period;
}

std::vector<Window> PeriodsBetween(Timestamp from, Timestamp to, Schedule schedule) {
  std::vector<Window> out;
  Duration period = PeriodOf(schedule);
  Timestamp start = FloorToPeriod(from, schedule);
  for (Timestamp end = Add(start, period); end <= to; start = end, end = Add(start, period)) {
    out.push_back({start, end});
  }
  return out;
}

}  // namespace derived
