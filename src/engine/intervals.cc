#include "engine/intervals.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace derived {

void IntervalSet::Add(Window w) {
  if (w.end <= w.start) return;
  std::vector<Window> out;
  out.reserve(ranges_.size() + 1);
  bool placed = false;
  for (const Window& r : ranges_) {
    if (r.end < w.start) {
      out.push_back(r);
    } else if (w.end < r.start) {
      if (!placed) out.push_back(w), placed = true;
      out.push_back(r);
    } else {  // overlapping or touching: absorb into w
      w.start = std::min(w.start, r.start);
      w.end = std::max(w.end, r.end);
    }
  }
  if (!placed) out.push_back(w);
  ranges_ = std::move(out);
}

bool IntervalSet::Covers(Window w) const {
  if (w.end <= w.start) return true;
  for (const Window& r : ranges_) {
    if (r.start <= w.start && w.end <= r.end) return true;
  }
  return false;
}

bool IntervalSet::Intersects(Window w) const {
  for (const Window& r : ranges_) {
    if (r.start < w.end && w.start < r.end) return true;
  }
  return false;
}

Timestamp IntervalSet::ContiguousEnd(Timestamp from) const {
  for (const Window& r : ranges_) {
    if (r.start <= from && from <= r.end) return r.end;
  }
  return from;
}

std::string IntervalSet::ToJson() const {
  nlohmann::json j = nlohmann::json::array();
  for (const Window& r : ranges_) j.push_back({FormatIso(r.start), FormatIso(r.end)});
  return j.dump();
}

Result<IntervalSet> IntervalSet::FromJson(const std::string& json) {
  IntervalSet set;
  if (json.empty()) return set;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return Error("intervals are not a JSON array: " + json);
  for (const auto& item : j) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_string()) {
      return Error("an interval is not a [start, end] pair: " + item.dump());
    }
    auto s = ParseTimestamp(item[0].get<std::string>());
    auto e = ParseTimestamp(item[1].get<std::string>());
    if (!s.ok()) return s.error();
    if (!e.ok()) return e.error();
    set.Add({*s, *e});
  }
  return set;
}

}  // namespace derived
