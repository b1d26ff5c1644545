// Fuzzes the timestamp, duration and schedule parsers (time/timestamp.h, time/schedule.h).
// Every line of the input goes through all three; what parses is formatted and parsed
// back, and the first timestamp, duration and schedule are combined by the calendar
// arithmetic the planner uses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "time/schedule.h"
#include "time/timestamp.h"

#include "expect.h"

namespace {

using namespace derived;

using derived::fuzz::Expect;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::optional<Timestamp> ts;
  std::optional<Duration> duration;
  std::optional<Schedule> schedule;
  while (true) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    if (auto t = ParseTimestamp(line); t.ok()) {
      Expect(*t >= kStartOfTime && *t <= kEndOfTime, "a parsed timestamp is within years 0000-9999");
      auto back = ParseTimestamp(FormatIso(*t));
      Expect(back.ok() && *back == *t, "FormatIso parses back to the same instant");
      (void)FormatSqlLiteral(*t);
      if (!ts) ts = *t;
    }
    if (auto d = ParseDuration(line); d.ok()) {
      Expect(d->count >= 1 && d->count <= kMaxDurationHours, "a parsed duration's count is in range");
      auto back = ParseDuration(FormatDuration(*d));
      Expect(back.ok() && *back == *d, "FormatDuration parses back to the same duration");
      if (!duration) duration = *d;
    }
    if (auto s = ParseSchedule(line); s.ok()) {
      auto back = ParseSchedule(ScheduleName(*s));
      Expect(back.ok() && *back == *s, "ScheduleName parses back to the same schedule");
      if (!schedule) schedule = *s;
    }
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  if (ts && schedule) {
    Timestamp floor = FloorToPeriod(*ts, *schedule);
    Timestamp next = NextBoundary(*ts, *schedule);
    Expect(floor <= *ts && *ts < next, "FloorToPeriod(t) <= t < NextBoundary(t)");
    Expect(FloorToPeriod(floor, *schedule) == floor, "a boundary floors to itself");
    Expect(Add(floor, PeriodOf(*schedule)) == NextBoundary(floor, *schedule), "a period after a boundary is the next");
  }
  if (ts && duration) {
    Timestamp later = Add(*ts, *duration);
    Expect(later > *ts, "adding a duration moves forward");
    Window w = WindowEndingAt(later, *duration);
    Expect(w.end == later && w.start <= *ts, "the window ending at t + d starts at or before t");
  }
  return 0;
}
