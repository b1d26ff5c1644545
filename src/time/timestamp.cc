#include "time/timestamp.h"

#include <cctype>
#include <cstdio>

#include "time/civil.h"
#include "util/strings.h"

namespace derived {
namespace {

// Reads fixed-width fields left to right; every step either consumes or leaves the
// position alone so the caller can name exactly what it expected.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  std::string_view Rest() const { return s_.substr(pos_); }

  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }

  // Exactly `width` digits.
  bool Digits(int width, int* out) {
    if (pos_ + static_cast<size_t>(width) > s_.size()) return false;
    int v = 0;
    for (int i = 0; i < width; ++i) {
      char c = s_[pos_ + static_cast<size_t>(i)];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + (c - '0');
    }
    pos_ += static_cast<size_t>(width);
    *out = v;
    return true;
  }

  void SkipDigits() {
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

Error Invalid(std::string_view text, const std::string& why) {
  std::string msg = "invalid timestamp '" + std::string(text) +
                    "': expected ISO-8601 like 2024-01-03 or 2024-01-03T00:00:00Z";
  if (!why.empty()) msg += " (" + why + ")";
  return Error(msg);
}

std::string Quoted(std::string_view rest) { return "'" + std::string(rest) + "'"; }

}  // namespace

Result<Timestamp> ParseTimestamp(std::string_view text) {
  std::string trimmed = Trim(text);
  if (trimmed.empty()) return Invalid(text, "it is empty");
  Cursor c(trimmed);

  int y = 0, mo = 0, d = 0;
  if (!c.Digits(4, &y) || !c.Consume('-') || !c.Digits(2, &mo) || !c.Consume('-') || !c.Digits(2, &d)) {
    return Invalid(text, "the date must be YYYY-MM-DD");
  }
  if (mo < 1 || mo > 12) return Invalid(text, "month " + std::to_string(mo) + " is not in 1-12");
  std::chrono::year_month_day date{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                   std::chrono::day{static_cast<unsigned>(d)}};
  if (!date.ok()) {
    unsigned last = civil::LastDayOf(date.year(), date.month());
    return Invalid(text, "day " + std::to_string(d) + " is not in 1-" + std::to_string(last) + " for " +
                             trimmed.substr(0, 7));
  }

  int h = 0, mi = 0, s = 0;
  int64_t offset_seconds = 0;
  if (!c.AtEnd()) {
    if (!c.Consume('T') && !c.Consume('t') && !c.Consume(' ')) {
      return Invalid(text, "unexpected " + Quoted(c.Rest()) + " after the date");
    }
    if (!c.Digits(2, &h) || !c.Consume(':') || !c.Digits(2, &mi)) {
      return Invalid(text, "the time must be HH:MM or HH:MM:SS");
    }
    if (c.Consume(':')) {
      if (!c.Digits(2, &s)) return Invalid(text, "the seconds must be two digits");
      // Fractions are truncated: runs are scheduled on whole seconds at the finest.
      if (c.Consume('.') || c.Consume(',')) {
        if (!std::isdigit(static_cast<unsigned char>(c.Peek()))) {
          return Invalid(text, "expected digits after the decimal point");
        }
        c.SkipDigits();
      }
    }
    if (h > 23) return Invalid(text, "hour " + std::to_string(h) + " is not in 0-23");
    if (mi > 59) return Invalid(text, "minute " + std::to_string(mi) + " is not in 0-59");
    if (s > 59) return Invalid(text, "second " + std::to_string(s) + " is not in 0-59");

    if (c.Consume('Z') || c.Consume('z')) {
      // UTC, nothing to convert.
    } else if (c.Peek() == '+' || c.Peek() == '-') {
      int sign = c.Peek() == '+' ? 1 : -1;
      c.Consume(c.Peek());
      int oh = 0, om = 0;
      if (!c.Digits(2, &oh)) return Invalid(text, "the offset must be +HH:MM, +HHMM or +HH");
      bool colon = c.Consume(':');
      if (!c.Digits(2, &om) && colon) return Invalid(text, "the offset must be +HH:MM, +HHMM or +HH");
      if (oh > 23 || om > 59) return Invalid(text, "offset hours must be 0-23 and minutes 0-59");
      offset_seconds = sign * (oh * civil::kSecondsPerHour + om * 60);
    }
  }
  if (!c.AtEnd()) return Invalid(text, "unexpected trailing " + Quoted(c.Rest()));

  // Local time = UTC + offset, hence the subtraction.
  Timestamp local = civil::FromDay(std::chrono::sys_days{date}, h * civil::kSecondsPerHour + mi * 60 + s);
  Timestamp utc{local.seconds - offset_seconds};
  if (utc < kStartOfTime) return Invalid(text, "it is before 0000-01-01T00:00:00Z in UTC");
  if (utc > kEndOfTime) return Invalid(text, "it is after 9999-12-31T23:59:59Z in UTC");
  return utc;
}

Result<Timestamp> ParseUserTimestamp(std::string_view text) {
  Result<Timestamp> t = ParseTimestamp(text);
  if (!t.ok()) return t;
  if (*t < kEarliestUserTimestamp || *t >= kUserTimestampLimit) {
    return Error("timestamp '" + std::string(Trim(text)) +
                 "' is out of range: expected one from 1900-01-01 up to (not including) 2200-01-01");
  }
  return t;
}

namespace {

// "2024-01-03" then `sep` then "04:05:06".
std::string FormatWith(Timestamp t, char sep) {
  civil::CivilTime ct = civil::ToCivil(t);
  int64_t sod = ct.second_of_day;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u%c%02d:%02d:%02d", static_cast<int>(ct.date.year()),
                static_cast<unsigned>(ct.date.month()), static_cast<unsigned>(ct.date.day()), sep,
                static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  return buf;
}

}  // namespace

std::string FormatIso(Timestamp t) { return FormatWith(t, 'T') + "Z"; }

std::string FormatSqlLiteral(Timestamp t) { return "TIMESTAMP '" + FormatWith(t, ' ') + "'"; }

}  // namespace derived
