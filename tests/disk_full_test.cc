// Finding 3 of the hardening issue: on a full disk a failed commit left DuckDB's memory
// inconsistent, Derived went on using the same database, and the next commit spliced the
// failed one's strings into `_derived.state` and `_derived.log` (`createcreate`,
// `failedsuccess`) for good. Here a real small filesystem (a tmpfs the test mounts; the
// suite runs as root, as CI does) is filled to a different level before each run of a
// simulated fortnight, so runs fail at many points; after the space is freed every table
// and every `_derived.state` row must equal a clean build's, and the log must hold every
// window once and only well-formed rows.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

#include <fmt/format.h>

#include "engine_testing.h"
#include "warehouse/duckdb/warehouse.h"

namespace derived {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::WarehouseProject;

// A tmpfs of `megabytes` mounted on a fresh directory for the test's lifetime.
class SmallDisk {
 public:
  explicit SmallDisk(int megabytes) {
    std::string opts = "size=" + std::to_string(megabytes) + "m,mode=0700";
    mounted_ = mount("tmpfs", dir_.str().c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    Free();
    if (mounted_) umount2(dir_.str().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string path() const { return dir_.str(); }

  // Fills the disk until only `left` bytes are free.
  void FillLeaving(int64_t left) {
    Free();
    struct statvfs vfs;
    ASSERT_EQ(statvfs(dir_.str().c_str(), &vfs), 0);
    int64_t avail = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
    if (avail <= left) return;
    int fd = open((dir_.path() / "filler").c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(posix_fallocate(fd, 0, avail - left), 0);
    close(fd);
  }
  void Free() { std::filesystem::remove(dir_.path() / "filler"); }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

void WriteProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", R"(time_column: ts
freshness: marker
columns:
  - {name: user_id, type: BIGINT}
  - {name: ts, type: TIMESTAMP}
  - {name: amount, type: DOUBLE}
)");
  p.Write("tables/core/hourly.yaml", R"(schedule: hourly
strategy: append
start: 2024-01-01
batch: 6
time_column: hour
sql: |
  SELECT date_trunc('hour', ts) AS hour, user_id, count(*) AS events, sum(amount) AS amount,
         'user-' || user_id || '-' || strftime(date_trunc('hour', ts), '%d%H') AS label
  FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY ALL
)");
  p.Write("tables/core/users.yaml", R"(schedule: daily
strategy: merge
start: 2024-01-01
batch: 1
time_column: last_seen
merge: {keys: [user_id], rules: {first_seen: min, last_seen: max, events: sum}}
sql: |
  SELECT user_id, min(hour) AS first_seen, max(hour) AS last_seen, sum(events) AS events FROM core.hourly
  WHERE hour >= {{ window_start }} AND hour < {{ window_end }} GROUP BY ALL
)");
  p.Write("tables/core/totals.yaml", R"(schedule: daily
sql: SELECT count(*) AS users, sum(events) AS events, string_agg(user_id::VARCHAR, ',' ORDER BY user_id) AS ids FROM core.users
tests: [{row_count: {min: 1}}]
)");
  p.Write("tables/core/busy.yaml", R"(strategy: view
sql: SELECT user_id, events FROM core.users WHERE events > 100
)");
  p.Sql("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT i % 31 AS user_id, TIMESTAMP '2024-01-01' + "
        "INTERVAL (i * 13) SECOND AS ts, (i % 11) * 0.5 AS amount FROM range(0, 110000) t(i)");
}

// Every row of a query, as text, sorted: to compare two warehouses.
std::vector<std::string> RowsOf(const WarehouseProject& p, const std::string& sql) {
  auto wh = OpenDuckDbWarehouse((p.dir().path() / "warehouse.duckdb").string(), db::FileAccess::Unrestricted());
  EXPECT_TRUE(wh.ok()) << wh.error().message;
  if (!wh.ok()) return {};
  auto rows = (*wh)->Query(sql);
  EXPECT_TRUE(rows.ok()) << sql << ": " << rows.error().message;
  if (!rows.ok()) return {};
  std::vector<std::string> out;
  for (const auto& r : rows->rows) {
    std::string line;
    for (const auto& v : r) line += v.value_or("NULL") + "|";
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const char* kChecked[] = {
    "SELECT * FROM core.hourly",
    "SELECT * FROM core.users",
    "SELECT * FROM core.totals",
    "SELECT * FROM core.busy",
    // A view's completeness is live (its inputs'); its row only says when it was made.
    "SELECT table_name, definition_hash, completed::VARCHAR, CASE WHEN config->>'strategy' = 'view' THEN NULL ELSE "
    "complete_through END, last_status, last_error, consecutive_failures FROM _derived.state",
};

TEST(Hardening, AFullDiskNeverCorruptsTheMetadata) {
  SmallDisk disk(24);
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs (" << disk.error()
                              << "): this test needs root, as CI has";
  WarehouseProject clean;
  ::setenv("TMPDIR", disk.path().c_str(), 1);
  WarehouseProject full;
  ::unsetenv("TMPDIR");
  ASSERT_EQ(full.dir().str().rfind(disk.path(), 0), 0u);
  WriteProject(clean);
  WriteProject(full);

  std::mt19937 rng(20261202);
  int failed_runs = 0;
  std::set<int64_t> points;  // successful log rows when a run failed: where it stopped
  for (int day = 8; day <= 21; ++day) {
    SCOPED_TRACE("day " + std::to_string(day));
    std::string through = fmt::format("2024-01-{:02}", day);
    std::string now = through + "T03:00:00Z";
    ASSERT_EQ(clean.Derived({"source", "mark", "raw.events", "--through", through}).exit_code, 0);
    ASSERT_EQ(clean.Derived({"run", "--once"}, now).exit_code, 0);
    ASSERT_EQ(full.Derived({"source", "mark", "raw.events", "--through", through}).exit_code, 0);

    // Left free: from a few pages to more than a run writes.
    disk.FillLeaving(std::uniform_int_distribution<int64_t>(0, day == 8 ? 2 << 20 : 48 << 10)(rng));
    auto r = full.Derived({"run", "--once"}, now);
    disk.Free();
    if (r.exit_code != 0) {
      ++failed_runs;
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_THAT(r.out + r.err, AnyOf(HasSubstr("No space left on device"), HasSubstr("after an I/O error")));
      points.insert(full.Count("SELECT count(*) FROM _derived.log WHERE status = 'success'"));
    }
    r = full.Derived({"run", "--once"}, now);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const char* sql : kChecked) EXPECT_EQ(RowsOf(full, sql), RowsOf(clean, sql)) << sql;
    // Only well-formed log rows, and each window applied once.
    EXPECT_EQ(full.Count("SELECT count(*) FROM _derived.log WHERE status NOT IN ('success', 'failed') OR "
                         "operation NOT IN ('create', 'rebuild', 'append', 'merge', 'replace', 'view', 'test', 'validate') "
                         "OR table_name NOT IN ('core.hourly', 'core.users', 'core.totals', 'core.busy', "
                         "'raw.events')"),
              0)
        << ::testing::PrintToString(RowsOf(full, "SELECT DISTINCT table_name, operation, status FROM _derived.log"));
    EXPECT_EQ(full.Count("SELECT count(*) FROM _derived.log a JOIN _derived.log b ON a.table_name = b.table_name "
                         "AND a.rowid < b.rowid AND a.window_start < b.window_end AND b.window_start < a.window_end "
                         "WHERE a.status = 'success' AND b.status = 'success' AND a.operation IN ('create', 'append', "
                         "'merge') AND b.operation IN ('create', 'append', 'merge')"),
              0);
  }
  // The runs really did stop at many different points.
  EXPECT_GE(failed_runs, 8);
  EXPECT_GE(points.size(), 6u);
  std::printf("[ disk full ] %d of 14 runs failed, at %zu distinct points\n", failed_runs, points.size());
}

// The service on a full disk stops itself with the error rather than carrying on with a
// database it can no longer trust; restarted once there is room, it catches up exactly.
TEST(Hardening, AServiceStopsOnAFullDiskAndCatchesUpWhenRestarted) {
  SmallDisk disk(24);
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs (" << disk.error() << "): this test needs root, as CI has";
  WarehouseProject clean;
  ::setenv("TMPDIR", disk.path().c_str(), 1);
  WarehouseProject full;
  ::unsetenv("TMPDIR");
  WriteProject(clean);
  WriteProject(full);
  const std::string now = "2024-01-12T03:00:00Z";
  for (const auto* p : {&clean, &full}) {
    ASSERT_EQ(p->Derived({"source", "mark", "raw.events", "--through", "2024-01-12"}).exit_code, 0);
  }
  ASSERT_EQ(clean.Derived({"run", "--once"}, now).exit_code, 0);

  disk.FillLeaving(200 << 10);
  testing::Background service({"run", "--project", full.dir().str(), "--watch", "0"}, {"DERIVED_NOW=" + now});
  auto stopped = service.Wait(std::chrono::seconds(120));
  disk.Free();
  EXPECT_EQ(stopped.exit_code, 1) << stopped.out << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("stopping: the warehouse had an I/O error"));
  EXPECT_THAT(stopped.err, HasSubstr("No space left on device"));

  auto r = full.Derived({"run", "--once"}, now);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* sql : kChecked) EXPECT_EQ(RowsOf(full, sql), RowsOf(clean, sql)) << sql;
}

}  // namespace
}  // namespace derived
