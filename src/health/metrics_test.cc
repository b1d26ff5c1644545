// FleetMetrics: its exposition read line by line, as Prometheus would read it.
#include "health/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace derived::health {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every sample: the series (name and labels, as written) -> its value, as written.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> samples;
  for (const std::string& line : Lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = line.substr(space + 1);
  }
  return samples;
}

// The family a sample belongs to: its name, less a histogram's suffix.
std::string FamilyOf(const std::string& sample_name, const std::string& type) {
  if (type != "histogram") return sample_name;
  for (std::string suffix : {"_bucket", "_sum", "_count"}) {
    if (sample_name.ends_with(suffix)) return sample_name.substr(0, sample_name.size() - suffix.size());
  }
  return sample_name;
}

// Checks the text against the exposition format 0.0.4 and returns the families in order
// (name -> type).
std::vector<std::pair<std::string, std::string>> CheckFormat(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]+)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\])*")"
      R"((,[a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))");
  std::vector<std::pair<std::string, std::string>> families;
  EXPECT_TRUE(text.ends_with("\n"));
  std::vector<std::string> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_match(lines[i], m, help)) {
      std::string name = m[1];
      EXPECT_LT(i + 1, lines.size());
      std::smatch t;
      EXPECT_TRUE(i + 1 < lines.size() && std::regex_match(lines[i + 1], t, type) && t[1] == name)
          << "# HELP " << name << " is not followed by its # TYPE";
      for (const auto& [seen, unused] : families) EXPECT_NE(seen, name) << "family written twice";
      families.emplace_back(name, t[2]);
      ++i;
    } else if (std::regex_match(lines[i], m, sample)) {
      EXPECT_FALSE(families.empty()) << lines[i];
      if (!families.empty()) {
        EXPECT_EQ(FamilyOf(m[1], families.back().second), families.back().first) << lines[i];
      }
    } else {
      ADD_FAILURE() << "not a line of the exposition format: '" << lines[i] << "'";
    }
  }
  return families;
}

TEST(FleetMetrics, EveryFamilyHasHelpAndTypeBeforeItsFirstSample) {
  FleetMetrics metrics;
  auto families = CheckFormat(metrics.Exposition());
  std::vector<std::pair<std::string, std::string>> expected = {
      {"derived_tables_owned", "gauge"},
      {"derived_tables_served", "gauge"},
      {"derived_builds_total", "counter"},
      {"derived_build_failures_total", "counter"},
      {"derived_build_seconds", "histogram"},
      {"derived_lease_renewals_total", "counter"},
      {"derived_lease_renewal_failures_total", "counter"},
      {"derived_lease_takeovers_total", "counter"},
      {"derived_wakeup_latency_seconds", "histogram"},
      {"derived_process_start_time_seconds", "gauge"},
      {"derived_ready", "gauge"},
  };
  EXPECT_EQ(families, expected);
}

TEST(FleetMetrics, GaugesAndLeaseCounters) {
  FleetMetrics metrics(FleetMetrics::kDefaultMaxTables, /*start_time_seconds=*/1700000000.25);
  metrics.SetTablesOwned(3);
  metrics.SetTablesServed(5);
  metrics.RecordLeaseRenewal(true);
  metrics.RecordLeaseRenewal(true);
  metrics.RecordLeaseRenewal(false);
  metrics.RecordTakeover(2);
  metrics.RecordTakeover();
  metrics.RecordTakeover(0);
  metrics.SetReady(true);
  std::string text = metrics.Exposition();
  CheckFormat(text);
  auto s = Samples(text);
  EXPECT_EQ(s["derived_tables_owned"], "3");
  EXPECT_EQ(s["derived_tables_served"], "5");
  EXPECT_EQ(s["derived_lease_renewals_total"], "3");
  EXPECT_EQ(s["derived_lease_renewal_failures_total"], "1");
  EXPECT_EQ(s["derived_lease_takeovers_total"], "3");
  EXPECT_EQ(s["derived_process_start_time_seconds"], "1700000000.25");
  EXPECT_EQ(s["derived_ready"], "1");
  metrics.SetReady(false);
  EXPECT_EQ(Samples(metrics.Exposition())["derived_ready"], "0");
}

TEST(FleetMetrics, StartTimeDefaultsToNow) {
  auto before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  FleetMetrics metrics;
  double start = std::stod(Samples(metrics.Exposition())["derived_process_start_time_seconds"]);
  EXPECT_GE(start, std::floor(before));
  EXPECT_LT(start, before + 60);
}

TEST(FleetMetrics, CountsBuildsByTableAndStatusAndFailuresByTable) {
  FleetMetrics metrics;
  metrics.RecordBuild("core.users", "built", 1.5);
  metrics.RecordBuild("core.users", "built", 2);
  metrics.RecordBuild("core.users", "failed", 0.5);
  metrics.RecordBuild("core.events", "test_failed", 3);
  metrics.RecordBuild("core.events", "superseded", 0);
  metrics.RecordBuild("core.events", "up_to_date", 0.001);
  std::string text = metrics.Exposition();
  CheckFormat(text);
  // The whole family, in table order, then status order.
  EXPECT_THAT(text, HasSubstr("# TYPE derived_builds_total counter\n"
                              "derived_builds_total{table=\"core.events\",status=\"superseded\"} 1\n"
                              "derived_builds_total{table=\"core.events\",status=\"test_failed\"} 1\n"
                              "derived_builds_total{table=\"core.events\",status=\"up_to_date\"} 1\n"
                              "derived_builds_total{table=\"core.users\",status=\"built\"} 2\n"
                              "derived_builds_total{table=\"core.users\",status=\"failed\"} 1\n"
                              "# HELP derived_build_failures_total "));
  EXPECT_THAT(text, HasSubstr("# TYPE derived_build_failures_total counter\n"
                              "derived_build_failures_total{table=\"core.events\"} 1\n"
                              "derived_build_failures_total{table=\"core.users\"} 1\n"
                              "# HELP derived_build_seconds "));
  // Durations of the steps that ran a build only: not superseded or up_to_date.
  auto s = Samples(text);
  EXPECT_EQ(s["derived_build_seconds_count"], "4");
  EXPECT_EQ(s["derived_build_seconds_sum"], "7");
  EXPECT_EQ(s["derived_build_seconds_bucket{le=\"0.5\"}"], "1");
  EXPECT_EQ(s["derived_build_seconds_bucket{le=\"1\"}"], "1");
  EXPECT_EQ(s["derived_build_seconds_bucket{le=\"2.5\"}"], "3");
  EXPECT_EQ(s["derived_build_seconds_bucket{le=\"5\"}"], "4");
  EXPECT_EQ(s["derived_build_seconds_bucket{le=\"+Inf\"}"], "4");
}

TEST(FleetMetrics, HistogramBucketsAreCumulativeAndEndWithInf) {
  FleetMetrics metrics;
  for (double v : {0.0005, 0.001, 0.003, 45.0, 1000.0}) metrics.ObserveWakeup(v);
  metrics.ObserveWakeup(-0.2);  // another machine's clock ahead of ours: counted as 0
  metrics.ObserveWakeup(std::nan(""));
  metrics.ObserveWakeup(INFINITY);
  std::string text = metrics.Exposition();
  CheckFormat(text);

  std::vector<std::string> buckets;
  for (const std::string& line : Lines(text)) {
    if (line.starts_with("derived_wakeup_latency_seconds_bucket")) buckets.push_back(line);
  }
  std::vector<std::string> expected;
  std::map<double, int> below = {{0.001, 3}, {0.0025, 3}, {0.005, 4}, {30, 4}, {60, 5}};
  int cumulative = 0;
  for (double le : FleetMetrics::WakeupBuckets()) {
    if (below.count(le)) cumulative = below[le];
    expected.push_back(fmt::format("derived_wakeup_latency_seconds_bucket{{le=\"{}\"}} {}", le, cumulative));
  }
  expected.push_back("derived_wakeup_latency_seconds_bucket{le=\"+Inf\"} 6");
  EXPECT_EQ(buckets, expected);
  auto s = Samples(text);
  EXPECT_EQ(s["derived_wakeup_latency_seconds_count"], "6");
  EXPECT_DOUBLE_EQ(std::stod(s["derived_wakeup_latency_seconds_sum"]), 1045.0045);
  // The le="..." values as written: the bounds in the exposition, 1 ms to 60 s.
  EXPECT_THAT(text, HasSubstr("derived_wakeup_latency_seconds_bucket{le=\"0.001\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("derived_wakeup_latency_seconds_bucket{le=\"0.0025\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("derived_wakeup_latency_seconds_bucket{le=\"60\"} 5\n"));
}

TEST(FleetMetrics, WakeupBucketsGrowRoughlyExponentiallyFromAMillisecondToAMinute) {
  auto b = FleetMetrics::WakeupBuckets();
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.front(), 0.001);
  EXPECT_EQ(b.back(), 60);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b[i] / b[i - 1], 1.5) << b[i];
    EXPECT_LE(b[i] / b[i - 1], 3.0) << b[i];
  }
  auto builds = FleetMetrics::BuildBuckets();
  for (size_t i = 1; i < builds.size(); ++i) EXPECT_GT(builds[i], builds[i - 1]);
}

TEST(FleetMetrics, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain.table"), "plain.table");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  FleetMetrics metrics;
  metrics.RecordBuild("a\"b\\c\nd", "fa\"iled\n", 1);
  std::string text = metrics.Exposition();
  CheckFormat(text);
  EXPECT_THAT(text, HasSubstr("derived_builds_total{table=\"a\\\"b\\\\c\\nd\",status=\"fa\\\"iled\\n\"} 1\n"));
}

TEST(FleetMetrics, FormatsSampleValues) {
  EXPECT_EQ(FormatSampleValue(3), "3");
  EXPECT_EQ(FormatSampleValue(0.0025), "0.0025");
  EXPECT_EQ(FormatSampleValue(1700000000.5), "1700000000.5");
  EXPECT_EQ(FormatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(FleetMetrics, TablesPastTheBoundAreFoldedIntoOther) {
  FleetMetrics metrics(/*max_tables=*/3);
  for (int i = 0; i < 10; ++i) metrics.RecordBuild(fmt::format("d.t{}", i), "built", 1);
  metrics.RecordBuild("d.t1", "failed", 1);  // a table with its own label keeps it
  metrics.RecordBuild("d.t9", "failed", 1);
  metrics.RecordBuild("d.t9", "failed", 1);
  std::string text = metrics.Exposition();
  CheckFormat(text);
  std::vector<std::string> builds, failures;
  for (const std::string& line : Lines(text)) {
    if (line.starts_with("derived_builds_total")) builds.push_back(line);
    if (line.starts_with("derived_build_failures_total")) failures.push_back(line);
  }
  EXPECT_THAT(builds, ::testing::ElementsAre("derived_builds_total{table=\"_other\",status=\"built\"} 7",
                                             "derived_builds_total{table=\"_other\",status=\"failed\"} 2",
                                             "derived_builds_total{table=\"d.t0\",status=\"built\"} 1",
                                             "derived_builds_total{table=\"d.t1\",status=\"built\"} 1",
                                             "derived_builds_total{table=\"d.t1\",status=\"failed\"} 1",
                                             "derived_builds_total{table=\"d.t2\",status=\"built\"} 1"));
  EXPECT_THAT(failures, ::testing::ElementsAre("derived_build_failures_total{table=\"_other\"} 2",
                                               "derived_build_failures_total{table=\"d.t1\"} 1"));
}

TEST(FleetMetrics, StatusesPastTheBoundAreFoldedIntoOtherAndFailuresStillCount) {
  FleetMetrics metrics;
  for (size_t i = 0; i < 2 * FleetMetrics::kMaxStatuses; ++i) metrics.RecordBuild("d.t", fmt::format("s{}", i), 1);
  // Past the bound, "failed" has no label of its own, but is still a failure.
  metrics.RecordBuild("d.t", "failed", 1);
  std::string text = metrics.Exposition();
  CheckFormat(text);
  int series = 0;
  for (const std::string& line : Lines(text)) series += line.starts_with("derived_builds_total{") ? 1 : 0;
  EXPECT_EQ(series, static_cast<int>(FleetMetrics::kMaxStatuses));
  auto s = Samples(text);
  EXPECT_EQ(s["derived_builds_total{table=\"d.t\",status=\"_other\"}"],
            std::to_string(FleetMetrics::kMaxStatuses + 2));
  EXPECT_EQ(s["derived_build_failures_total{table=\"d.t\"}"], "1");
}

TEST(FleetMetrics, ConcurrentUpdatesAddUpExactly) {
  FleetMetrics metrics;
  constexpr int kThreads = 8, kEach = 5000, kTables = 20;
  std::atomic<bool> done{false};
  // Scrapes meanwhile: each one well formed, with every histogram's _count its +Inf bucket.
  std::thread scraper([&] {
    while (!done) {
      auto s = Samples(metrics.Exposition());
      EXPECT_EQ(s["derived_wakeup_latency_seconds_count"], s["derived_wakeup_latency_seconds_bucket{le=\"+Inf\"}"]);
      EXPECT_EQ(s["derived_build_seconds_count"], s["derived_build_seconds_bucket{le=\"+Inf\"}"]);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string table = fmt::format("d.t{}", (t + i) % kTables);
        metrics.RecordBuild(table, i % 4 == 0 ? "failed" : "built", 0.5);
        metrics.RecordLeaseRenewal(i % 10 != 0);
        metrics.RecordTakeover(1);
        metrics.ObserveWakeup(0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();

  std::string text = metrics.Exposition();
  CheckFormat(text);
  auto s = Samples(text);
  const int total = kThreads * kEach;
  int64_t built = 0, failed = 0, failures = 0;
  for (int i = 0; i < kTables; ++i) {
    built += std::stoll(s[fmt::format("derived_builds_total{{table=\"d.t{}\",status=\"built\"}}", i)]);
    failed += std::stoll(s[fmt::format("derived_builds_total{{table=\"d.t{}\",status=\"failed\"}}", i)]);
    failures += std::stoll(s[fmt::format("derived_build_failures_total{{table=\"d.t{}\"}}", i)]);
  }
  EXPECT_EQ(built, total * 3 / 4);
  EXPECT_EQ(failed, total / 4);
  EXPECT_EQ(failures, total / 4);
  EXPECT_EQ(s["derived_lease_renewals_total"], std::to_string(total));
  EXPECT_EQ(s["derived_lease_renewal_failures_total"], std::to_string(total / 10));
  EXPECT_EQ(s["derived_lease_takeovers_total"], std::to_string(total));
  EXPECT_EQ(s["derived_wakeup_latency_seconds_count"], std::to_string(total));
  EXPECT_EQ(s["derived_wakeup_latency_seconds_bucket{le=\"0.1\"}"], "0");
  EXPECT_EQ(s["derived_wakeup_latency_seconds_bucket{le=\"0.25\"}"], std::to_string(total));
  EXPECT_EQ(std::stod(s["derived_wakeup_latency_seconds_sum"]), total * 0.25);  // exact in binary
  EXPECT_EQ(s["derived_build_seconds_count"], std::to_string(total));
  EXPECT_EQ(std::stod(s["derived_build_seconds_sum"]), total * 0.5);
}

}  // namespace
}  // namespace derived::health
