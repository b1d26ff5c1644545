#include "health/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

namespace derived::health {
namespace {

constexpr double kWakeupBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,      2.5,   5,    10,    30,   60};
constexpr double kBuildBuckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};

bool IsFailure(std::string_view status) { return status == "failed" || status == "test_failed"; }
bool RanABuild(std::string_view status) {
  return status == "built" || status == "updated" || IsFailure(status);
}

double NowUnixSeconds() {
  auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since).count();
}

void Head(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string* out, std::string_view name, double value) {
  fmt::format_to(std::back_inserter(*out), "{} {}\n", name, FormatSampleValue(value));
}

void Sample(std::string* out, std::string_view name, uint64_t value) {
  fmt::format_to(std::back_inserter(*out), "{} {}\n", name, value);
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);  // the shortest text that reads back as the same double
}

// --- AtomicHistogram ---------------------------------------------------------------

AtomicHistogram::AtomicHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void AtomicHistogram::Observe(double value) {
  if (!std::isfinite(value)) return;
  value = std::max(value, 0.0);
  // The first bucket whose upper bound is at least the value ("le" is inclusive).
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void AtomicHistogram::Write(std::string_view name, std::string* out) const {
  auto it = std::back_inserter(*out);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? FormatSampleValue(bounds_[i]) : "+Inf";
    fmt::format_to(it, "{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
  }
  fmt::format_to(it, "{}_sum {}\n", name, FormatSampleValue(sum_.load(std::memory_order_relaxed)));
  fmt::format_to(it, "{}_count {}\n", name, cumulative);
}

// --- FleetMetrics ------------------------------------------------------------------

FleetMetrics::FleetMetrics(size_t max_tables, double start_time_seconds)
    : max_tables_(max_tables),
      start_time_seconds_(start_time_seconds < 0 ? NowUnixSeconds() : start_time_seconds),
      build_seconds_({std::begin(kBuildBuckets), std::end(kBuildBuckets)}),
      wakeup_seconds_({std::begin(kWakeupBuckets), std::end(kWakeupBuckets)}) {}

std::span<const double> FleetMetrics::WakeupBuckets() { return kWakeupBuckets; }
std::span<const double> FleetMetrics::BuildBuckets() { return kBuildBuckets; }

void FleetMetrics::SetTablesOwned(int64_t n) { tables_owned_.store(n, std::memory_order_relaxed); }
void FleetMetrics::SetTablesServed(int64_t n) { tables_served_.store(n, std::memory_order_relaxed); }
void FleetMetrics::SetReady(bool ready) { ready_.store(ready, std::memory_order_relaxed); }

void FleetMetrics::RecordLeaseRenewal(bool ok) {
  renewals_.fetch_add(1, std::memory_order_relaxed);
  if (!ok) renewal_failures_.fetch_add(1, std::memory_order_relaxed);
}

void FleetMetrics::RecordTakeover(int64_t n) {
  if (n > 0) takeovers_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
}

void FleetMetrics::ObserveWakeup(double seconds) { wakeup_seconds_.Observe(seconds); }

void FleetMetrics::RecordBuild(std::string_view table, std::string_view status, double seconds) {
  const bool failure = IsFailure(status);
  if (RanABuild(status)) build_seconds_.Observe(seconds);
  std::lock_guard lock(mu_);
  auto known = std::find(statuses_.begin(), statuses_.end(), status);
  if (known == statuses_.end()) {
    // The last place is kept for "_other", so the bound holds.
    if (statuses_.size() + 1 >= kMaxStatuses) status = kOther;
    known = std::find(statuses_.begin(), statuses_.end(), status);
    if (known == statuses_.end()) known = statuses_.insert(statuses_.end(), std::string(status));
  }
  auto index = static_cast<uint16_t>(known - statuses_.begin());

  auto t = tables_.find(table);
  if (t == tables_.end()) {
    size_t named = tables_.size() - (tables_.count(kOther) ? 1 : 0);
    if (named >= max_tables_) table = kOther;
    bool inserted;
    std::tie(t, inserted) = tables_.try_emplace(std::string(table));
    if (inserted) t->second.label = EscapeLabelValue(table);
  }
  TableSeries& series = t->second;
  if (failure) series.failures++;
  auto b = std::find_if(series.builds.begin(), series.builds.end(), [&](const auto& p) { return p.first == index; });
  if (b != series.builds.end()) {
    b->second++;
    return;
  }
  // Kept in status name order, so the text is the same for the same counts.
  auto at = std::find_if(series.builds.begin(), series.builds.end(),
                         [&](const auto& p) { return statuses_[p.first] > statuses_[index]; });
  series.builds.insert(at, {index, 1});
}

std::string FleetMetrics::Exposition() const {
  std::string out;
  Head(&out, "derived_tables_owned", "gauge", "Tables whose lease this process holds.");
  Sample(&out, "derived_tables_owned", static_cast<double>(tables_owned_.load(std::memory_order_relaxed)));
  Head(&out, "derived_tables_served", "gauge", "Tables this process is configured to serve.");
  Sample(&out, "derived_tables_served", static_cast<double>(tables_served_.load(std::memory_order_relaxed)));

  // Under the lock only the counts are copied: labels never change once made.
  struct Row {
    const std::string* table;
    uint16_t status;
    uint64_t count;
  };
  std::vector<Row> builds;
  std::vector<std::pair<const std::string*, uint64_t>> failures;
  std::vector<std::string> statuses;
  {
    std::lock_guard lock(mu_);
    statuses = statuses_;
    builds.reserve(tables_.size() * 2);
    for (const auto& [name, series] : tables_) {
      for (const auto& [index, n] : series.builds) builds.push_back({&series.label, index, n});
      if (series.failures > 0) failures.emplace_back(&series.label, series.failures);
    }
  }
  for (std::string& status : statuses) status = EscapeLabelValue(status);

  out.reserve(out.size() + builds.size() * 80 + failures.size() * 60 + 8192);
  Head(&out, "derived_builds_total", "counter", "Steps of each table, by how they ended.");
  for (const Row& row : builds) {
    out.append("derived_builds_total{table=\"").append(*row.table).append("\",status=\"");
    out.append(statuses[row.status]).append("\"} ").append(fmt::format_int(row.count).c_str()).push_back('\n');
  }
  Head(&out, "derived_build_failures_total", "counter",
       "Builds of each table that failed or failed a data test.");
  for (const auto& [table, n] : failures) {
    out.append("derived_build_failures_total{table=\"").append(*table).append("\"} ");
    out.append(fmt::format_int(n).c_str()).push_back('\n');
  }

  Head(&out, "derived_build_seconds", "histogram", "How long builds took, failed ones included.");
  build_seconds_.Write("derived_build_seconds", &out);
  Head(&out, "derived_lease_renewals_total", "counter", "Renewal rounds of the leases held, failed ones included.");
  Sample(&out, "derived_lease_renewals_total", renewals_.load(std::memory_order_relaxed));
  Head(&out, "derived_lease_renewal_failures_total", "counter", "Renewal rounds that did not reach the warehouse.");
  Sample(&out, "derived_lease_renewal_failures_total", renewal_failures_.load(std::memory_order_relaxed));
  Head(&out, "derived_lease_takeovers_total", "counter", "Leases taken over from a previous owner.");
  Sample(&out, "derived_lease_takeovers_total", takeovers_.load(std::memory_order_relaxed));
  Head(&out, "derived_wakeup_latency_seconds", "histogram",
       "From an input's commit to its reader's step starting.");
  wakeup_seconds_.Write("derived_wakeup_latency_seconds", &out);
  Head(&out, "derived_process_start_time_seconds", "gauge", "When this process started, in unix seconds.");
  Sample(&out, "derived_process_start_time_seconds", start_time_seconds_);
  Head(&out, "derived_ready", "gauge", "1 when this process is ready to serve its tables (as /readyz).");
  Sample(&out, "derived_ready", ready_.load(std::memory_order_relaxed) ? 1.0 : 0.0);
  return out;
}

}  // namespace derived::health
