// Issue 10, the bounds: findings 5, 6, 7, 8, 9 and 12, each pinned by a test named after
// it, through the real `derived` binary on real projects (and a real service).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine_testing.h"
#include "service/control.h"

namespace derived::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kDailyTable =
    "schedule: daily\nstrategy: append\nstart: 2024-01-01\ntime_column: day\nsql: |\n  SELECT date_trunc('day', ts) "
    "AS day, count(*) AS events\n  FROM raw.events\n  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}\n"
    "  GROUP BY 1\n";

// A project with raw.events and core.daily over it.
void WriteEventsProject(const WarehouseProject& p) {
  p.Write("sources/raw/events.yaml", kEventsSource);
  p.Sql(kEventsData);
  p.Write("tables/core/daily.yaml", kDailyTable);
}

// Polls `done` for up to ten seconds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string Root(const WarehouseProject& p) { return fs::canonical(p.dir().path()).string(); }

// The service answers with the token of its announcement: it is up, not merely its pid.
bool ServiceAnswers(const WarehouseProject& p) { return FindService(Root(p)).has_value(); }

// The service is up and working: on an embedded warehouse it answers its endpoint; beside
// a server (no endpoint: every command opens the server) it said it serves and still runs.
bool ServiceUp(const WarehouseProject& p, const Background& service) {
  if (!p.postgres()) return ServiceAnswers(p);
  return service.Output().find("serving") != std::string::npos && service.Output().find("stopped") == std::string::npos;
}

std::vector<std::string> Args(const WarehouseProject& p, std::vector<std::string> args) {
  args.push_back("--project");
  args.push_back(p.dir().str());
  return args;
}

// A service's arguments. On a shared server, marks that other processes write reach the
// service by its poll (on an embedded warehouse they go through the service itself).
std::vector<std::string> ServiceArgs(const WarehouseProject& p, std::vector<std::string> args) {
  if (p.postgres()) args.insert(args.end(), {"--poll", "0.2"});
  return Args(p, std::move(args));
}

// The marks of raw.events the warehouse holds: how many, and the latest.
std::string MarksOf(const WarehouseProject& p) {
  return p.Scalar(
      "SELECT count(*) || ' through ' || replace(CAST(max(through) AS VARCHAR), ' ', 'T') FROM "
      "_derived.source_marks WHERE source_name = 'raw.events'");
}

// The tests that do not need the embedded warehouse's one writing process run on both engines.
class HardeningBounds : public ::testing::TestWithParam<WarehouseEngine> {};

// A loopback port that accepts connections into its backlog and never answers.
class SilentListener {
 public:
  SilentListener() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

void Announce(const WarehouseProject& p, const nlohmann::json& doc) {
  p.Write(".derived/service.json", doc.dump());
}

// ---- finding 5 ----------------------------------------------------------------------------

TEST_P(HardeningBounds, SymlinkLoopUnderTablesIsAnError) {
  WarehouseProject p(GetParam());
  WriteEventsProject(p);
  fs::create_directory_symlink("..", p.dir().path() / "tables/core/loop");  // tables/core/loop/core/loop/...
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/loop: error: symlink loop: it leads back to tables, a folder that holds it"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("filesystem_error")));
  fs::remove(p.dir().path() / "tables/core/loop");
  fs::create_symlink("self.yaml", p.dir().path() / "tables/core/self.yaml");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/self.yaml: error: symlink loop: too many levels of symbolic links"));
  fs::remove(p.dir().path() / "tables/core/self.yaml");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // A running service survives both loops appearing: it reports them and keeps answering.
  Background service(ServiceArgs(p, {"run", "--watch", "0.1"}), {"DERIVED_NOW=2024-01-20T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return ServiceUp(p, service); })) << service.Errors();
  fs::create_symlink("self.yaml", p.dir().path() / "tables/core/self.yaml");
  fs::create_directory_symlink("..", p.dir().path() / "tables/core/loop");
  EXPECT_TRUE(Eventually([&] { return service.Errors().find("symlink loop") != std::string::npos; }))
      << service.Output() << service.Errors();
  r = p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Eventually([&] {
    // Not p.Scalar: until the service has built it, the table does not exist.
    auto q = p.Derived({"query", "SELECT count(*) AS n FROM core.daily"});
    return q.exit_code == 0 && q.out == "n\n4\n";
  })) << service.Errors();
  EXPECT_TRUE(ServiceUp(p, service));
  r = p.Derived({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.daily"));
}

// ---- finding 6 ----------------------------------------------------------------------------

// Nine levels of nine aliases: 711 bytes that expand to 9^9 (387 million) strings.
std::string AliasBomb() {
  std::string yaml = "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    std::string prev(1, static_cast<char>(level - 1));
    yaml += std::string("  ") + level + ": &" + level + " [";
    for (int i = 0; i < 9; ++i) yaml += (i ? ",*" : "*") + prev;
    yaml += "]\n";
  }
  return yaml;
}

TEST_P(HardeningBounds, YamlAliasBombIsRefused) {
  WarehouseProject p(GetParam());
  WriteEventsProject(p);
  p.Configure("vars:\n" + AliasBomb());
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("derived.yaml:"));
  EXPECT_THAT(r.err, HasSubstr("the YAML holds more than 100000 values once its aliases (*name) are expanded"));
  // In a table's file the bomb is that table's error, with its file and line.
  p.Configure("");
  p.Write("tables/core/bomb.yaml", std::string(kDailyTable) + "x-anchors:\n" + AliasBomb());
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/bomb.yaml:"));
  EXPECT_THAT(r.out + r.err, HasSubstr("is it an alias bomb?"));
  // An alias inside its own anchor would nest for ever.
  p.Write("tables/core/bomb.yaml", std::string(kDailyTable) + "tags: &t [core, *t]\n");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("tables/core/bomb.yaml:"));
  EXPECT_THAT(r.out + r.err, HasSubstr("the YAML nests lists and mappings more than 64 deep"));
  fs::remove(p.dir().path() / "tables/core/bomb.yaml");
  EXPECT_EQ(p.Derived({"validate"}).exit_code, 0);
}

// ---- finding 7 ----------------------------------------------------------------------------

TEST_P(HardeningBounds, TemplateLoopsAndStringsAreBounded) {
  WarehouseProject p(GetParam());
  WriteEventsProject(p);
  p.Write("tables/core/loops.yaml",
          "schedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: |\n  SELECT 1 AS x\n  {% for i in range(1000000) %}\n"
          "  {% for j in range(1000000) %}{% endfor %}{% endfor %}\n");
  p.Write("tables/core/strings.yaml",
          "schedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: |\n  {% set s = 'x' * 200000 %}\n  SELECT 1 AS x\n"
          "  -- {{ s ~ s }}\n  -- {{ ('x' * 200000000) ~ ('x' * 200000000) }}\n");
  p.Write("tables/core/output.yaml",
          "schedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: |\n  SELECT 1 AS x\n  {% for i in range(100) %}\n"
          "  -- {{ 'x' * 1000000 }}\n  {% endfor %}\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  std::string all = r.out + r.err;
  EXPECT_THAT(all, HasSubstr("tables/core/loops.yaml:7: error: more than 1000000 loop iterations in one render"));
  EXPECT_THAT(all, HasSubstr("tables/core/strings.yaml:8: error: the string would be larger than 16 MiB, the most a "
                             "template may build"));
  EXPECT_THAT(all, HasSubstr("tables/core/output.yaml:7: error: the rendered text would be larger than 16 MiB, the most a "
                             "template may produce"));
  // The other table is fine, and builds.
  EXPECT_THAT(all, Not(HasSubstr("tables/core/daily.yaml")));
}

// ---- finding 8 ----------------------------------------------------------------------------

// DuckDB-only: the CLI goes through the service's endpoint only on an embedded warehouse
// (one writing process); on PostgreSQL every command opens the server itself.
TEST(Hardening, SlowClientsCannotStarveTheControlEndpoint) {
  WarehouseProject p;
  WriteEventsProject(p);
  Background service(Args(p, {"run", "--watch", "0"}), {"DERIVED_NOW=2024-01-20T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return ServiceAnswers(p); })) << service.Errors();
  int port = FindService(Root(p))->port;

  // Connections without the token, each sending a request a byte every 100 ms from a
  // thread of their own, for as long as they are open (the server's per-read timeout of
  // 5 s never fires on them).
  const std::string request = "GET /v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  auto open_slow = [&](int n) {
    std::vector<std::unique_ptr<LoopbackClient>> slow;
    for (int i = 0; i < n; ++i) {
      slow.push_back(std::make_unique<LoopbackClient>(port));
      EXPECT_TRUE(slow.back()->connected());
    }
    return slow;
  };
  auto dribble = [&](const std::vector<std::unique_ptr<LoopbackClient>>& slow, const std::atomic<bool>& stop) {
    for (size_t sent = 0; !stop; ++sent) {
      for (auto& s : slow) (void)s->Send(request[std::min(sent, request.size() - 1)]);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto status = [&](const std::vector<std::string>& env) {
    auto r = RunDerived(Args(p, {"status"}), env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("core.daily"));
    EXPECT_THAT(r.err, Not(HasSubstr("in use")));
  };

  // Twelve of them, as in the finding: the CLI is answered at once, every time.
  {
    auto slow = open_slow(12);
    std::atomic<bool> stop{false};
    std::thread dribbler(dribble, std::cref(slow), std::cref(stop));
    for (int round = 0; round < 5; ++round) status({});
    stop = true;
    dribbler.join();
  }
  // More of them than the endpoint has workers (32), and than httplib's default pool on any
  // machine this runs on: each holds a worker for at most the 5 s a request may take, so
  // the CLI, queued behind them, is answered within that (it may wait up to 15 s here).
  {
    auto slow = open_slow(48);
    std::atomic<bool> stop{false};
    std::thread dribbler(dribble, std::cref(slow), std::cref(stop));
    auto started = std::chrono::steady_clock::now();
    status({"DERIVED_SERVICE_TIMEOUT=15"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    status({});
    // By now the server has dropped every slow connection: sending fails once it has (a
    // first send after the close may still be taken by the kernel).
    stop = true;
    dribbler.join();
    for (auto& s : slow) {
      bool closed = false;
      for (int i = 0; i < 3 && !closed; ++i) closed = !s->Send('x');
      EXPECT_TRUE(closed);
    }
  }
  EXPECT_TRUE(ServiceAnswers(p));
}

// DuckDB-only: commands look for a running service only on an embedded warehouse (one
// writing process); on PostgreSQL every command opens the server itself.
TEST(Hardening, ServiceThatDoesNotAnswerIsReportedAsNotResponding) {
  WarehouseProject p;
  WriteEventsProject(p);
  SilentListener silent;
  // This test's own pid is alive, and the port accepts connections but never answers.
  Announce(p, {{"pid", getpid()}, {"port", silent.port()}, {"token", "t"}});
  auto r = RunDerived(Args(p, {"status"}), {"DERIVED_SERVICE_TIMEOUT=0.3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the Derived service is not responding (pid " + std::to_string(getpid()) + ", port " +
                               std::to_string(silent.port()) + ")"));
  EXPECT_THAT(r.err, Not(HasSubstr("in use")));
  // A bad timeout is a usage error.
  r = RunDerived(Args(p, {"status"}), {"DERIVED_SERVICE_TIMEOUT=forever"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("DERIVED_SERVICE_TIMEOUT must be a number of seconds"));
  // An announcement whose port nothing listens on, or whose port is absurd, is stale: the
  // command runs on its own.
  int closed_port = 0;
  {
    SilentListener gone;
    closed_port = gone.port();
  }
  for (const nlohmann::json& port : {nlohmann::json(closed_port), nlohmann::json(0), nlohmann::json(70000),
                                     nlohmann::json(-1), nlohmann::json("8080")}) {
    Announce(p, {{"pid", getpid()}, {"port", port}, {"token", "t"}});
    r = p.Derived({"status"});
    EXPECT_EQ(r.exit_code, 0) << port << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("core.daily"));
  }
}

// ---- finding 9 ----------------------------------------------------------------------------

TEST_P(HardeningBounds, EmptyMarkIsRejected) {
  WarehouseProject p(GetParam());
  WriteEventsProject(p);
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-05"}).exit_code, 0);
  ASSERT_EQ(MarksOf(p), "1 through 2024-01-05T00:00:00");
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::string kRange = "is out of range: expected one from 1900-01-01 up to (not including) 2200-01-01";
  const Case cases[] = {
      {{"source", "mark", "raw.events", "--through", ""}, "--through: invalid timestamp '': expected ISO-8601"},
      {{"source", "mark", "raw.events", "--through", "  "}, "(it is empty)"},
      {{"source", "mark", "raw.events", "--through", "9999-12-31"}, "--through: timestamp '9999-12-31' " + kRange},
      {{"source", "mark", "raw.events", "--through", "0001-01-01"}, "--through: timestamp '0001-01-01' " + kRange},
      {{"source", "mark", "raw.events", "--through", "2024-01-06", "--now", ""}, "--now: invalid timestamp ''"},
      {{"source", "restate", "raw.events", "--from", "", "--to", "2024-01-02"}, "--from: invalid timestamp ''"},
      {{"backfill", "core.daily", "--from", "2024-01-01", "--to", "2300-01-01"}, "--to: timestamp '2300-01-01' "},
      {{"lineage", "core.daily", "--window", ""}, "--window: invalid timestamp ''"},
      {{"show", "core.daily", "--window-start", ""}, "--window-start: invalid timestamp ''"},
      {{"run", "--once", "--select", ""}, "--select: empty selector"},
      {{"dag", "--select", ""}, "--select: empty selector"},
      {{"run", "--poll", "0"}, "--poll"},
      {{"run", "--poll", "1e300"}, "--poll"},
      {{"run", "--workers", "100000"}, "--workers"},
      {{"status", "--threads", "-1"}, "--threads"},
  };
  for (const Case& c : cases) {
    auto r = p.Derived(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args.back() << ": " << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.error));
  }
  // DERIVED_NOW set but empty or absurd is as wrong as --now.
  for (const char* env : {"DERIVED_NOW=", "DERIVED_NOW=9999-12-31T23:59:59Z"}) {
    auto r = RunDerived(Args(p, {"source", "mark", "raw.events", "--through", "2024-01-06"}), {env});
    EXPECT_EQ(r.exit_code, 2) << env;
    EXPECT_THAT(r.err, HasSubstr("DERIVED_NOW: "));
  }
  EXPECT_EQ(MarksOf(p), "1 through 2024-01-05T00:00:00");

  // In YAML the same: an absurd start, an empty or zero window, an empty schedule are
  // errors naming the file and line.
  p.Write("tables/core/bad.yaml",
          "schedule: daily\nstrategy: append\ntime_column: day\nstart: 0001-01-01\nwindow: 0 days\nsql: SELECT "
          "date_trunc('day', ts) AS day FROM raw.events WHERE ts >= {{ window_start }} AND ts < {{ window_end }}\n");
  p.Write("tables/core/worse.yaml", "schedule: ''\nstrategy: replace\nwindow: 40000 days\nsql: SELECT 1 AS x\n");
  p.Configure("defaults: {start: 2024-01-01}\nremoved_tables: {keep_for: ''}\n");
  auto r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("derived.yaml:4:"));
  EXPECT_THAT(r.err, HasSubstr("removed_tables.keep_for: invalid duration '': it is empty"));
  p.Configure("");
  r = p.Derived({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  std::string all = r.out + r.err;
  EXPECT_THAT(all, HasSubstr("tables/core/bad.yaml:4:8: error: timestamp '0001-01-01' " + kRange));
  EXPECT_THAT(all, HasSubstr("tables/core/bad.yaml:5:9: error: invalid duration '0 days': the count must be at least 1"));
  EXPECT_THAT(all, HasSubstr("tables/core/worse.yaml:1:11: error: empty schedule"));
  EXPECT_THAT(all, HasSubstr("tables/core/worse.yaml:3:9: error: invalid duration '40000 days': it is longer than 100 "
                             "years (at most 36525 days)"));
  EXPECT_EQ(MarksOf(p), "1 through 2024-01-05T00:00:00");
}

// ---- finding 12 ---------------------------------------------------------------------------

TEST_P(HardeningBounds, FilesArePrivate) {
  WarehouseProject p(GetParam());  // no warehouse yet (on DuckDB, no file): Derived creates it
  p.Write("tables/core/one.yaml", "schedule: daily\nstrategy: replace\nstart: 2024-01-01\nsql: SELECT 1 AS x\n");
  auto r = p.Derived({"run", "--once"}, "2024-01-03");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // While the service runs, it holds the warehouse and its WAL open, and writes.
  Background service(ServiceArgs(p, {"run", "--watch", "0"}), {"DERIVED_NOW=2024-01-05T00:00:00Z"});
  ASSERT_TRUE(Eventually([&] { return ServiceUp(p, service); })) << service.Errors();
  p.Sql("CREATE TABLE scratch AS SELECT 1 AS x");  // DuckDB: through the service, so the WAL now holds it
  auto mode = [&](const std::string& rel) {
    struct stat st;
    if (stat((p.dir().path() / rel).c_str(), &st) != 0) return std::string("missing");
    char text[8];
    std::snprintf(text, sizeof text, "%04o", st.st_mode & 07777);
    return std::string(text);
  };
  if (!p.postgres()) {  // the embedded warehouse's own files
    EXPECT_EQ(mode("warehouse.duckdb"), "0600");
    EXPECT_EQ(mode("warehouse.duckdb.wal"), "0600");
  }
  EXPECT_EQ(mode(".derived"), "0700");
  EXPECT_EQ(mode(".derived/cache.json"), "0600");
  // The control endpoint's announcement (only an embedded warehouse's service has one).
  EXPECT_EQ(mode(".derived/service.json"), p.postgres() ? "missing" : "0600");
  // And nothing else Derived made under .derived is open to others.
  for (const auto& entry : fs::recursive_directory_iterator(p.dir().path() / ".derived")) {
    std::string rel = entry.path().lexically_relative(p.dir().path()).string();
    std::string m = mode(rel);
    EXPECT_TRUE(m == "0600" || m == "0700") << rel << " is " << m;
  }
}

INSTANTIATE_TEST_SUITE_P(BothEngines, HardeningBounds, kBothEngines, EngineName);

}  // namespace
}  // namespace derived::testing
