// A point in time as whole seconds since the Unix epoch, always UTC, and its text forms.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace derived {

// Whole seconds are enough: schedules are hourly at the finest, and a plain integer is
// trivially stored in the metadata log and compared.
struct Timestamp {
  int64_t seconds = 0;  // since 1970-01-01T00:00:00Z; negative before it
  auto operator<=>(const Timestamp&) const = default;
};

// The last representable instant, 9999-12-31T23:59:59Z: how far a source declared
// `freshness: static` (a seed, a lookup file) is complete.
inline constexpr Timestamp kEndOfTime{253402300799};
// The first representable instant, 0000-01-01T00:00:00Z.
inline constexpr Timestamp kStartOfTime{-62167219200};

// Parses ISO-8601 in UTC: "2024-01-03" (midnight), "2024-01-03T04:05:06Z", "2024-01-03 04:05:06",
// "2024-01-03T04:05Z". Fractional seconds are truncated; an offset ("+02:00", "-0530", "+02")
// is converted to UTC; no suffix means UTC. Surrounding whitespace is ignored. Years are four
// digits (0000-9999), and the instant in UTC must be one too: an offset cannot carry it
// past kStartOfTime or kEndOfTime, so whatever parses formats back. Empty text, invalid dates, out-of-range fields and trailing text are
// errors that say what was expected and what was wrong.
Result<Timestamp> ParseTimestamp(std::string_view text);

// The instants a user may write (a table's `start`, `source mark --through`, `--now`,
// DERIVED_NOW, backfill ranges): from 1900-01-01 up to, not including, 2200-01-01. No data
// a warehouse builds is dated before 1900 and no clock reads 2200, while a typo outside
// the range (`start: 0001-01-01`, a mark at 9999-12-31) would plan millions of windows.
// Values Derived stored itself (a static source is complete through kEndOfTime) are read
// back with ParseTimestamp.
inline constexpr Timestamp kEarliestUserTimestamp{-2208988800};  // 1900-01-01T00:00:00Z
inline constexpr Timestamp kUserTimestampLimit{7258118400};       // 2200-01-01T00:00:00Z, excluded

// ParseTimestamp, and then within [kEarliestUserTimestamp, kUserTimestampLimit): the
// error names the range.
Result<Timestamp> ParseUserTimestamp(std::string_view text);

// "2024-01-03T00:00:00Z". REQUIRES: t falls within years 0000-9999 for a parseable result.
std::string FormatIso(Timestamp t);

// "TIMESTAMP '2024-01-03 00:00:00'": a literal that DuckDB and PostgreSQL read as UTC
// when compared with TIMESTAMP columns.
std::string FormatSqlLiteral(Timestamp t);

}  // namespace derived
