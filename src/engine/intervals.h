// A set of half-open time ranges kept merged: how a table records which windows it has
// completed without storing one row per window.
#pragma once

#include <string>
#include <vector>

#include "time/schedule.h"
#include "util/status.h"

namespace derived {

class IntervalSet {
 public:
  // Adds [w.start, w.end), merging with touching or overlapping ranges. Empty windows are
  // ignored.
  void Add(Window w);
  // True when every instant of w is covered.
  bool Covers(Window w) const;
  // True when some instant of w is covered.
  bool Intersects(Window w) const;
  // The end of the range that holds `from` (or starts exactly at it); `from` itself
  // when no range does. This is a table's watermark: the end of its contiguous
  // completed windows from its start.
  Timestamp ContiguousEnd(Timestamp from) const;

  const std::vector<Window>& ranges() const { return ranges_; }
  bool empty() const { return ranges_.empty(); }

  // "[["2024-01-01T00:00:00Z","2024-01-03T00:00:00Z"], ...]"
  std::string ToJson() const;
  static Result<IntervalSet> FromJson(const std::string& json);

  bool operator==(const IntervalSet&) const = default;

 private:
  std::vector<Window> ranges_;  // sorted, disjoint, non-touching, non-empty
};

}  // namespace derived
