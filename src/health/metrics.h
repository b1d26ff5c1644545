// What one updater process of a fleet (issue 12) reports to Prometheus: the tables it
// serves and owns, its builds and failures, its lease renewals and takeovers, and how long
// a commit takes to wake its readers. Served by HealthServer at /metrics in the text
// exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Thread-safe: updates come from every worker and loop at once. Gauges, unlabeled counters
// and histograms are lock-free atomics; the per-table counters take one mutex briefly (a
// scrape holds it only to copy the counts: at most ~15 ms with 100,000 tables).
//
// Memory is bounded: at most `max_tables` distinct table label values (default 100,000)
// and kMaxStatuses distinct status values. Builds of tables past the bound are counted
// under table="_other", and of statuses past it under status="_other". No table can be
// called that: table names are "dataset.name".
//
// The exposition is written here rather than with prometheus-cpp (Debian's
// prometheus-cpp-dev 1.0.1): it is small and fully specified, while that package drags in
// civetweb, libcurl and zlib development packages its CMake config requires even when
// only the core library is linked; it has no bound on label sets, so the folding into
// "_other" would be ours anyway; and its serializer leaves HELP text unescaped, omits
// families that have no series yet, and writes series in hash order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace derived::health {

// A histogram of fixed upper bounds (ascending, finite), updated without a lock.
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> bounds);

  // Non-finite values are dropped; negative ones (clock skew between machines) count as 0.
  void Observe(double value);
  // Appends `name`'s _bucket (cumulative, ending with le="+Inf"), _sum and _count lines.
  // _count always equals the +Inf bucket, even while other threads observe.
  void Write(std::string_view name, std::string* out) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // per bucket, not cumulative; the last is +Inf
  std::atomic<double> sum_{0};
};

class FleetMetrics {
 public:
  static constexpr size_t kDefaultMaxTables = 100'000;
  static constexpr size_t kMaxStatuses = 32;
  static constexpr std::string_view kOther = "_other";

  // `start_time_seconds`: derived_process_start_time_seconds, unix seconds; < 0 = now.
  explicit FleetMetrics(size_t max_tables = kDefaultMaxTables, double start_time_seconds = -1);
  FleetMetrics(const FleetMetrics&) = delete;
  FleetMetrics& operator=(const FleetMetrics&) = delete;

  void SetTablesOwned(int64_t n);   // tables whose lease this process holds
  void SetTablesServed(int64_t n);  // tables this process is configured to serve
  void SetReady(bool ready);

  // One step of `table` that came to `status` (StepStatusName: "built", "failed", ...),
  // taking `seconds`. "failed" and "test_failed" also count as a build failure. The
  // duration goes into derived_build_seconds only for steps that ran a build: "built",
  // "updated", "failed" and "test_failed" (not "up_to_date", "waiting", "superseded", ...).
  void RecordBuild(std::string_view table, std::string_view status, double seconds);
  // One renewal round of the leases held; ok = false when it did not reach the warehouse.
  void RecordLeaseRenewal(bool ok);
  // `n` leases taken from a previous owner (expired or released) after the first round.
  void RecordTakeover(int64_t n = 1);
  // From an input's commit to its reader's step starting, in seconds.
  void ObserveWakeup(double seconds);

  // Every metric, in the text exposition format 0.0.4, each family with # HELP and
  // # TYPE lines (also before its first sample).
  std::string Exposition() const;

  // The histograms' upper bounds: wake-ups from 1 ms to 60 s, builds from 10 ms to 1 h.
  static std::span<const double> WakeupBuckets();
  static std::span<const double> BuildBuckets();

 private:
  struct TableSeries {
    std::string label;  // the table's label value, escaped once
    std::vector<std::pair<uint16_t, uint64_t>> builds;  // status index -> count
    uint64_t failures = 0;
  };

  const size_t max_tables_;
  const double start_time_seconds_;
  std::atomic<int64_t> tables_owned_{0}, tables_served_{0};
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> renewals_{0}, renewal_failures_{0}, takeovers_{0};
  AtomicHistogram build_seconds_, wakeup_seconds_;

  mutable std::mutex mu_;
  std::vector<std::string> statuses_;  // guarded by mu_; at most kMaxStatuses
  // Guarded by mu_; at most max_tables_ + 1. Never erased, and a label never changes, so a
  // scrape formats the labels after copying only the counts under the lock.
  std::map<std::string, TableSeries, std::less<>> tables_;
};

// `value` as a label value: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN".
std::string FormatSampleValue(double value);

}  // namespace derived::health
