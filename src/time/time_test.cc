// Expected values were computed by hand (and cross-checked with Python's datetime),
// never with the code under test.
#include <gtest/gtest.h>

#include "time/clock.h"
#include "time/schedule.h"
#include "time/timestamp.h"

namespace derived {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t k2024_01_01 = 1704067200;
constexpr int64_t k2024_01_03 = 1704240000;

// Parses a timestamp the tests below rely on; ParseTimestamp itself is pinned against
// raw seconds in the Parse* tests.
Timestamp T(std::string_view text) {
  Result<Timestamp> r = ParseTimestamp(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Timestamp{};
}

std::string ParseError(std::string_view text) {
  Result<Timestamp> r = ParseTimestamp(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->seconds : 0);
  return r.ok() ? "" : r.error().message;
}

TEST(ParseTimestamp, AcceptedForms) {
  EXPECT_EQ(T("2024-01-03").seconds, k2024_01_03);
  EXPECT_EQ(T("2024-01-03T04:05:06Z").seconds, k2024_01_03 + 4 * 3600 + 5 * 60 + 6);
  EXPECT_EQ(T("2024-01-03T04:05:06").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("2024-01-03 04:05:06").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("2024-01-03t04:05:06z").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("2024-01-03T04:05Z").seconds, k2024_01_03 + 14700);
  EXPECT_EQ(T("2024-01-03T04:05").seconds, k2024_01_03 + 14700);
  EXPECT_EQ(T("  2024-01-03T04:05:06Z\n").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("1970-01-01T00:00:00Z").seconds, 0);
  EXPECT_EQ(T("2000-01-01").seconds, 946684800);
  EXPECT_EQ(T("0000-01-01").seconds, -62167219200);
  EXPECT_EQ(T("9999-12-31T23:59:59Z").seconds, 253402300799);
}

TEST(ParseTimestamp, FractionalSecondsAreTruncated) {
  EXPECT_EQ(T("2024-01-03T04:05:06.999Z").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("2024-01-03T04:05:06,5").seconds, k2024_01_03 + 14706);
  EXPECT_EQ(T("2024-01-03T04:05:06.123456789+00:00").seconds, k2024_01_03 + 14706);
}

TEST(ParseTimestamp, OffsetsAreConvertedToUtc) {
  // 04:05:06 at +02:00 is 02:05:06Z.
  EXPECT_EQ(T("2024-01-03T04:05:06+02:00").seconds, k2024_01_03 + 2 * 3600 + 5 * 60 + 6);
  // 04:05:06 at -05:30 is 09:35:06Z.
  EXPECT_EQ(T("2024-01-03T04:05:06-0530").seconds, k2024_01_03 + 9 * 3600 + 35 * 60 + 6);
  EXPECT_EQ(T("2024-01-03T04:05:06+02").seconds, k2024_01_03 + 2 * 3600 + 5 * 60 + 6);
  EXPECT_EQ(T("2024-01-03T04:05:06-00:00").seconds, k2024_01_03 + 14706);
  // Crossing the year backwards: 01:00 at +02:00 is 23:00Z the previous day.
  EXPECT_EQ(T("2024-01-01T01:00:00+02:00").seconds, k2024_01_01 - 3600);
  // The first and last instants are reachable with an offset that stays inside them.
  EXPECT_EQ(T("0000-01-01T01:00:00+01:00"), kStartOfTime);
  EXPECT_EQ(T("9999-12-31T22:59:59-01:00"), kEndOfTime);
}

TEST(ParseTimestamp, BeforeTheEpoch) {
  EXPECT_EQ(T("1969-12-31T23:59:59Z").seconds, -1);
  EXPECT_EQ(T("1969-07-20T20:17:40Z").seconds, -14182940);
  EXPECT_EQ(T("1969-12-31").seconds, -kDay);
}

TEST(ParseTimestamp, LeapYears) {
  EXPECT_EQ(T("2024-02-29").seconds, 1709164800);
  EXPECT_EQ(T("2000-02-29").seconds, 951782400);  // divisible by 400: leap
  EXPECT_NE(ParseError("1900-02-29").find("day 29 is not in 1-28 for 1900-02"), std::string::npos);
  EXPECT_NE(ParseError("2023-02-29").find("day 29 is not in 1-28 for 2023-02"), std::string::npos);
}

TEST(ParseTimestamp, ErrorMessageSaysWhatWasExpected) {
  EXPECT_EQ(ParseError("2024-13-01"),
            "invalid timestamp '2024-13-01': expected ISO-8601 like 2024-01-03 or 2024-01-03T00:00:00Z "
            "(month 13 is not in 1-12)");
}

TEST(ParseTimestamp, EveryErrorPath) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "it is empty"},
      {"   ", "it is empty"},
      {"yesterday", "the date must be YYYY-MM-DD"},
      {"2024-1-03", "the date must be YYYY-MM-DD"},
      {"2024/01/03", "the date must be YYYY-MM-DD"},
      {"24-01-03", "the date must be YYYY-MM-DD"},
      {"2024-00-10", "month 0 is not in 1-12"},
      {"2024-02-30", "day 30 is not in 1-29 for 2024-02"},
      {"2024-04-31", "day 31 is not in 1-30 for 2024-04"},
      {"2024-01-00", "day 0 is not in 1-31 for 2024-01"},
      {"2024-01-03X", "unexpected 'X' after the date"},
      {"2024-01-03Z", "unexpected 'Z' after the date"},
      {"2024-01-03T", "the time must be HH:MM or HH:MM:SS"},
      {"2024-01-03T4:05", "the time must be HH:MM or HH:MM:SS"},
      {"2024-01-03T04", "the time must be HH:MM or HH:MM:SS"},
      {"2024-01-03T04:05:6", "the seconds must be two digits"},
      {"2024-01-03T04:05:06.", "expected digits after the decimal point"},
      {"2024-01-03T04:05:06.Z", "expected digits after the decimal point"},
      {"2024-01-03T24:00:00", "hour 24 is not in 0-23"},
      {"2024-01-03T04:60", "minute 60 is not in 0-59"},
      {"2024-01-03T04:05:60", "second 60 is not in 0-59"},
      {"2024-01-03T04:05+2", "the offset must be +HH:MM, +HHMM or +HH"},
      {"2024-01-03T04:05+02:", "the offset must be +HH:MM, +HHMM or +HH"},
      {"2024-01-03T04:05+24:00", "offset hours must be 0-23 and minutes 0-59"},
      {"2024-01-03T04:05+02:60", "offset hours must be 0-23 and minutes 0-59"},
      {"2024-01-03T04:05+023", "unexpected trailing '3'"},
      {"2024-01-03T04:05:06Zjunk", "unexpected trailing 'junk'"},
      {"2024-01-03T04:05:06 UTC", "unexpected trailing ' UTC'"},
      {"2024-01-03T04:05:06.5.5", "unexpected trailing '.5'"},
      // Found by the time fuzzer: an offset carried these outside years 0000-9999, and
      // FormatIso wrote a year that did not parse back.
      {"0000-01-01T00:00:00+01:00", "it is before 0000-01-01T00:00:00Z in UTC"},
      {"9999-12-31T23:59:59-00:01", "it is after 9999-12-31T23:59:59Z in UTC"},
  };
  for (const Case& c : cases) {
    std::string expected = std::string("invalid timestamp '") + c.text +
                           "': expected ISO-8601 like 2024-01-03 or 2024-01-03T00:00:00Z (" + c.reason + ")";
    EXPECT_EQ(ParseError(c.text), expected);
  }
}

// Finding 9 of issue 10: what a user writes must be a real, sane instant; what Derived
// stored itself (complete through 9999-12-31) still reads back.
TEST(ParseUserTimestamp, RejectsEmptyAndAbsurdInstants) {
  EXPECT_EQ(ParseUserTimestamp("2024-01-03")->seconds, k2024_01_03);
  EXPECT_EQ(ParseUserTimestamp("1900-01-01")->seconds, -2208988800);
  EXPECT_EQ(ParseUserTimestamp("2199-12-31T23:59:59Z")->seconds, 7258118399);
  const std::string range = "' is out of range: expected one from 1900-01-01 up to (not including) 2200-01-01";
  for (const char* text : {"0001-01-01", "1899-12-31T23:59:59Z", "1900-01-01T00:30:00+01:00", "2200-01-01",
                           "9999-12-31T23:59:59Z"}) {
    Result<Timestamp> r = ParseUserTimestamp(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().message, "timestamp '" + std::string(text) + range);
  }
  Result<Timestamp> empty = ParseUserTimestamp("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message,
            "invalid timestamp '': expected ISO-8601 like 2024-01-03 or 2024-01-03T00:00:00Z (it is empty)");
  EXPECT_EQ(ParseTimestamp("9999-12-31T23:59:59Z")->seconds, kEndOfTime.seconds);
}

TEST(FormatTimestamp, IsoAndSql) {
  EXPECT_EQ(FormatIso(Timestamp{k2024_01_03}), "2024-01-03T00:00:00Z");
  EXPECT_EQ(FormatIso(Timestamp{k2024_01_03 + 14706}), "2024-01-03T04:05:06Z");
  EXPECT_EQ(FormatIso(Timestamp{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso(Timestamp{-1}), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatIso(Timestamp{-14182940}), "1969-07-20T20:17:40Z");
  EXPECT_EQ(FormatIso(Timestamp{1709164800 + 86399}), "2024-02-29T23:59:59Z");
  EXPECT_EQ(FormatSqlLiteral(Timestamp{k2024_01_03}), "TIMESTAMP '2024-01-03 00:00:00'");
  EXPECT_EQ(FormatSqlLiteral(Timestamp{-1}), "TIMESTAMP '1969-12-31 23:59:59'");
}

TEST(FormatTimestamp, RoundTrips) {
  for (const char* s : {"2024-01-03T04:05:06Z", "1969-07-20T20:17:40Z", "2000-02-29T12:00:00Z"}) {
    EXPECT_EQ(FormatIso(T(s)), s);
  }
}

TEST(Schedule, ParseAndName) {
  EXPECT_EQ(*ParseSchedule("hourly"), Schedule::kHourly);
  EXPECT_EQ(*ParseSchedule("daily"), Schedule::kDaily);
  EXPECT_EQ(*ParseSchedule("Weekly"), Schedule::kWeekly);
  EXPECT_EQ(*ParseSchedule(" MONTHLY "), Schedule::kMonthly);
  EXPECT_EQ(ScheduleName(Schedule::kHourly), "hourly");
  EXPECT_EQ(ScheduleName(Schedule::kDaily), "daily");
  EXPECT_EQ(ScheduleName(Schedule::kWeekly), "weekly");
  EXPECT_EQ(ScheduleName(Schedule::kMonthly), "monthly");
}

TEST(Schedule, ParseErrors) {
  Result<Schedule> typo = ParseSchedule("daly");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(
      typo.error().message,
      "unknown schedule 'daly' (did you mean 'daily'?); expected one of: hourly, daily, weekly, monthly");
  Result<Schedule> far = ParseSchedule("yearly-ish");
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.error().message,
            "unknown schedule 'yearly-ish'; expected one of: hourly, daily, weekly, monthly");
  for (const char* empty : {"", "  "}) {
    Result<Schedule> r = ParseSchedule(empty);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "empty schedule; expected one of: hourly, daily, weekly, monthly");
  }
}

TEST(Duration, Parse) {
  EXPECT_EQ(*ParseDuration("1 hour"), (Duration{1, TimeUnit::kHour}));
  EXPECT_EQ(*ParseDuration("24 hours"), (Duration{24, TimeUnit::kHour}));
  EXPECT_EQ(*ParseDuration("1 day"), (Duration{1, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("3 days"), (Duration{3, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("2 weeks"), (Duration{2, TimeUnit::kWeek}));
  EXPECT_EQ(*ParseDuration("1 month"), (Duration{1, TimeUnit::kMonth}));
  EXPECT_EQ(*ParseDuration("6 months"), (Duration{6, TimeUnit::kMonth}));
  EXPECT_EQ(*ParseDuration("1 days"), (Duration{1, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("3 DAY"), (Duration{3, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("  7Days "), (Duration{7, TimeUnit::kDay}));
  // Short units, as `--last 3d` is written; a month has none ("m" could be minutes).
  EXPECT_EQ(*ParseDuration("3d"), (Duration{3, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("12h"), (Duration{12, TimeUnit::kHour}));
  EXPECT_EQ(*ParseDuration("2 w"), (Duration{2, TimeUnit::kWeek}));
  EXPECT_FALSE(ParseDuration("1m").ok());
  // Up to 100 years of each unit.
  EXPECT_EQ(*ParseDuration("876600 hours"), (Duration{876600, TimeUnit::kHour}));
  EXPECT_EQ(*ParseDuration("36525 days"), (Duration{36525, TimeUnit::kDay}));
  EXPECT_EQ(*ParseDuration("5218 weeks"), (Duration{5218, TimeUnit::kWeek}));
  EXPECT_EQ(*ParseDuration("1200 months"), (Duration{1200, TimeUnit::kMonth}));
}

TEST(Duration, ParseErrors) {
  const std::string tail = "; expected a count and a unit like '1 hour', '3 days', '2 weeks' or '6 months'";
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "it is empty"},
      {" \t ", "it is empty"},
      {"days", "missing count"},
      {"+3 days", "missing count"},
      {"0 days", "the count must be at least 1"},
      {"-1 days", "the count must be at least 1"},
      {"1.5 days", "the count must be a whole number"},
      {"36526 days", "it is longer than 100 years (at most 36525 days)"},
      {"876601 hours", "it is longer than 100 years (at most 876600 hours)"},
      {"5219 weeks", "it is longer than 100 years (at most 5218 weeks)"},
      {"1201 months", "it is longer than 100 years (at most 1200 months)"},
      {"99999999999999999999999 days", "it is longer than 100 years (at most 36525 days)"},
      {"3", "missing unit"},
      {"3 dayz", "unknown unit 'dayz' (did you mean 'days'?)"},
      {"2 weks", "unknown unit 'weks' (did you mean 'weeks'?)"},
      {"1 mnth", "unknown unit 'mnth' (did you mean 'month'?)"},
      {"1 hr", "unknown unit 'hr'"},
      {"2 fortnights", "unknown unit 'fortnights'"},
      {"3 days ago", "unknown unit 'days ago'"},
  };
  for (const Case& c : cases) {
    Result<Duration> r = ParseDuration(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message, std::string("invalid duration '") + c.text + "': " + c.reason + tail);
  }
}

TEST(Duration, FormatAndPeriod) {
  EXPECT_EQ(FormatDuration({3, TimeUnit::kDay}), "3 days");
  EXPECT_EQ(FormatDuration({1, TimeUnit::kHour}), "1 hour");
  EXPECT_EQ(FormatDuration({2, TimeUnit::kWeek}), "2 weeks");
  EXPECT_EQ(FormatDuration({1, TimeUnit::kMonth}), "1 month");
  EXPECT_EQ(FormatDuration({6, TimeUnit::kMonth}), "6 months");
  EXPECT_EQ(PeriodOf(Schedule::kHourly), (Duration{1, TimeUnit::kHour}));
  EXPECT_EQ(PeriodOf(Schedule::kDaily), (Duration{1, TimeUnit::kDay}));
  EXPECT_EQ(PeriodOf(Schedule::kWeekly), (Duration{1, TimeUnit::kWeek}));
  EXPECT_EQ(PeriodOf(Schedule::kMonthly), (Duration{1, TimeUnit::kMonth}));
}

TEST(Add, FixedLengthUnits) {
  Timestamp t{k2024_01_03};
  EXPECT_EQ(Add(t, {1, TimeUnit::kHour}).seconds, k2024_01_03 + 3600);
  EXPECT_EQ(Add(t, {3, TimeUnit::kDay}).seconds, k2024_01_03 + 3 * kDay);
  EXPECT_EQ(Add(t, {2, TimeUnit::kWeek}).seconds, k2024_01_03 + 14 * kDay);
  EXPECT_EQ(Add(t, {2, TimeUnit::kDay}, -1).seconds, k2024_01_01);
  EXPECT_EQ(Add(t, {1, TimeUnit::kHour}, 5).seconds, k2024_01_03 + 5 * 3600);
  EXPECT_EQ(Add(Timestamp{0}, {1, TimeUnit::kDay}, -1).seconds, -kDay);
}

TEST(Add, CalendarMonthsClampToMonthEnd) {
  EXPECT_EQ(FormatIso(Add(T("2024-01-31"), {1, TimeUnit::kMonth})), "2024-02-29T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2023-01-31"), {1, TimeUnit::kMonth})), "2023-02-28T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-03-31T10:30:00Z"), {1, TimeUnit::kMonth}, -1)), "2024-02-29T10:30:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-05-31"), {1, TimeUnit::kMonth})), "2024-06-30T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-01-31"), {13, TimeUnit::kMonth})), "2025-02-28T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-12-15"), {1, TimeUnit::kMonth})), "2025-01-15T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-01-15"), {1, TimeUnit::kMonth}, -1)), "2023-12-15T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("2024-01-15"), {6, TimeUnit::kMonth}, -2)), "2023-01-15T00:00:00Z");
  EXPECT_EQ(FormatIso(Add(T("1970-01-31T12:00:00Z"), {1, TimeUnit::kMonth}, -2)), "1969-11-30T12:00:00Z");
}

TEST(FloorToPeriod, EachSchedule) {
  Timestamp t = T("2024-01-03T04:05:06Z");  // a Wednesday
  EXPECT_EQ(FloorToPeriod(t, Schedule::kHourly).seconds, k2024_01_03 + 4 * 3600);
  EXPECT_EQ(FloorToPeriod(t, Schedule::kDaily).seconds, k2024_01_03);
  EXPECT_EQ(FloorToPeriod(t, Schedule::kWeekly).seconds, k2024_01_01);  // Monday 2024-01-01
  EXPECT_EQ(FloorToPeriod(t, Schedule::kMonthly).seconds, k2024_01_01);
  // Already on a boundary: unchanged.
  EXPECT_EQ(FloorToPeriod(Timestamp{k2024_01_01}, Schedule::kWeekly).seconds, k2024_01_01);
  EXPECT_EQ(FloorToPeriod(Timestamp{1709164800 + 86399}, Schedule::kMonthly).seconds,
            1706745600);  // 2024-02-01
}

TEST(FloorToPeriod, IsoWeekAcrossYearBoundary) {
  // 2021-01-03 is a Sunday; its ISO week began Monday 2020-12-28.
  EXPECT_EQ(FloorToPeriod(T("2021-01-03T23:59:59Z"), Schedule::kWeekly).seconds, 1609113600);
  EXPECT_EQ(NextBoundary(T("2021-01-03T23:59:59Z"), Schedule::kWeekly).seconds, 1609718400);  // 2021-01-04
  // 2021-01-04 is a Monday: its own week start.
  EXPECT_EQ(FloorToPeriod(Timestamp{1609718400}, Schedule::kWeekly).seconds, 1609718400);
}

TEST(FloorToPeriod, BeforeTheEpoch) {
  Timestamp t{-1};  // 1969-12-31T23:59:59Z, a Wednesday
  EXPECT_EQ(FloorToPeriod(t, Schedule::kHourly).seconds, -3600);
  EXPECT_EQ(FloorToPeriod(t, Schedule::kDaily).seconds, -kDay);
  EXPECT_EQ(FloorToPeriod(t, Schedule::kWeekly).seconds, -3 * kDay);    // Monday 1969-12-29
  EXPECT_EQ(FloorToPeriod(t, Schedule::kMonthly).seconds, -31 * kDay);  // 1969-12-01
  // 1970-01-01 is a Thursday, so its week also began 1969-12-29.
  EXPECT_EQ(FloorToPeriod(Timestamp{0}, Schedule::kWeekly).seconds, -3 * kDay);
  EXPECT_EQ(FloorToPeriod(Timestamp{-3600}, Schedule::kHourly).seconds, -3600);
}

TEST(NextBoundary, IsStrictlyAfter) {
  EXPECT_EQ(NextBoundary(Timestamp{k2024_01_03}, Schedule::kDaily).seconds, k2024_01_03 + kDay);
  EXPECT_EQ(NextBoundary(Timestamp{k2024_01_03 - 1}, Schedule::kDaily).seconds, k2024_01_03);
  EXPECT_EQ(NextBoundary(Timestamp{k2024_01_03 + 1}, Schedule::kHourly).seconds, k2024_01_03 + 3600);
  EXPECT_EQ(FormatIso(NextBoundary(T("2024-02-29T12:00:00Z"), Schedule::kMonthly)), "2024-03-01T00:00:00Z");
  EXPECT_EQ(FormatIso(NextBoundary(T("2024-12-31T23:59:59Z"), Schedule::kMonthly)), "2025-01-01T00:00:00Z");
  EXPECT_EQ(NextBoundary(Timestamp{-1}, Schedule::kDaily).seconds, 0);
}

TEST(Window, EndingAt) {
  EXPECT_EQ(WindowEndingAt(T("2024-01-04"), {3, TimeUnit::kDay}), (Window{T("2024-01-01"), T("2024-01-04")}));
  EXPECT_EQ(WindowEndingAt(T("2024-01-03T05:00:00Z"), {1, TimeUnit::kHour}),
            (Window{Timestamp{k2024_01_03 + 4 * 3600}, Timestamp{k2024_01_03 + 5 * 3600}}));
  EXPECT_EQ(WindowEndingAt(T("2024-03-31"), {1, TimeUnit::kMonth}),
            (Window{T("2024-02-29"), T("2024-03-31")}));
  EXPECT_EQ(WindowEndingAt(T("2024-03-01"), {1, TimeUnit::kMonth}),
            (Window{T("2024-02-01"), T("2024-03-01")}));
}

TEST(PeriodsBetween, Daily) {
  std::vector<Window> got = PeriodsBetween(T("2024-01-01T05:00:00Z"), T("2024-01-04"), Schedule::kDaily);
  std::vector<Window> want = {{T("2024-01-01"), T("2024-01-02")},
                              {T("2024-01-02"), T("2024-01-03")},
                              {T("2024-01-03"), T("2024-01-04")}};
  EXPECT_EQ(got, want);
  // The partial day at the end is left out.
  EXPECT_EQ(PeriodsBetween(T("2024-01-01"), T("2024-01-03T12:00:00Z"), Schedule::kDaily).size(), 2u);
}

TEST(PeriodsBetween, MonthlyAndWeekly) {
  std::vector<Window> months = PeriodsBetween(T("2024-01-15"), T("2024-04-01"), Schedule::kMonthly);
  std::vector<Window> want = {{T("2024-01-01"), T("2024-02-01")},
                              {T("2024-02-01"), T("2024-03-01")},
                              {T("2024-03-01"), T("2024-04-01")}};
  EXPECT_EQ(months, want);
  std::vector<Window> weeks = PeriodsBetween(T("2021-01-03"), T("2021-01-18"), Schedule::kWeekly);
  std::vector<Window> want_weeks = {{T("2020-12-28"), T("2021-01-04")},
                                    {T("2021-01-04"), T("2021-01-11")},
                                    {T("2021-01-11"), T("2021-01-18")}};
  EXPECT_EQ(weeks, want_weeks);
}

TEST(PeriodsBetween, HourlyAcrossEpochAndEmptyCases) {
  std::vector<Window> hours = PeriodsBetween(Timestamp{-7200}, Timestamp{3600}, Schedule::kHourly);
  ASSERT_EQ(hours.size(), 3u);
  EXPECT_EQ(hours[0], (Window{Timestamp{-7200}, Timestamp{-3600}}));
  EXPECT_EQ(hours[2], (Window{Timestamp{0}, Timestamp{3600}}));
  EXPECT_TRUE(PeriodsBetween(T("2024-01-03"), T("2024-01-03"), Schedule::kDaily).empty());
  EXPECT_TRUE(PeriodsBetween(T("2024-01-04"), T("2024-01-03"), Schedule::kDaily).empty());
  EXPECT_TRUE(PeriodsBetween(T("2024-01-03"), T("2024-01-03T23:00:00Z"), Schedule::kDaily).empty());
}

TEST(Clock, FixedClockMovesOnlyWhenTold) {
  FixedClock clock(T("2024-01-31"));
  const Clock& as_clock = clock;
  EXPECT_EQ(as_clock.Now(), T("2024-01-31"));
  clock.Advance({1, TimeUnit::kMonth});
  EXPECT_EQ(clock.Now(), T("2024-02-29"));
  clock.AdvanceSeconds(90);
  EXPECT_EQ(clock.Now(), T("2024-02-29T00:01:30Z"));
  clock.Set(Timestamp{0});
  EXPECT_EQ(clock.Now().seconds, 0);
  clock.Advance({1, TimeUnit::kDay}, -2);
  EXPECT_EQ(clock.Now().seconds, -2 * kDay);
}

TEST(Clock, SystemClockIsAfter2024) {
  SystemClock clock;
  EXPECT_GT(clock.Now().seconds, k2024_01_01);
}

}  // namespace
}  // namespace derived
