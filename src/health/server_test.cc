// HealthServer end to end over loopback HTTP, its staleness on a manual clock (no test
// sleeps to make a heartbeat stale).
#include "health/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <httplib.h>

namespace derived::health {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

httplib::Client Loopback(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  return client;
}

// Status and body of GET `path`; status -1 when no answer came.
std::pair<int, std::string> Get(int port, const std::string& path) {
  auto res = Loopback(port).Get(path);
  if (!res) return {-1, httplib::to_string(res.error())};
  return {res->status, res->body};
}

// Sends `bytes` on a new loopback connection, closes its sending side and returns what
// the server answered before closing (at most 5 s).
std::string RawExchange(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    for (size_t sent = 0; sent < bytes.size();) {
      ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close before taking it all
      sent += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<size_t>(n));
  } else {
    ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
  }
  close(fd);
  return answer;
}

struct Fixture {
  FleetMetrics metrics;
  ManualMonotonicClock clock;
  HealthServer server{&metrics, &clock};
  int port = 0;

  explicit Fixture(const HealthOptions& options = {}) {
    auto started = server.Start(0, options);
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (started.ok()) port = *started;
  }
};

TEST(HealthServer, HealthzFailsOnceTheHeartbeatIsStaleAndPassesAgainOnTheNext) {
  Fixture f;
  ASSERT_GT(f.port, 0);
  EXPECT_EQ(f.server.port(), f.port);
  // Before any heartbeat, the start counts as one.
  EXPECT_EQ(Get(f.port, "/healthz"), std::make_pair(200, std::string("ok")));
  f.clock.Advance(31s);
  auto [status, body] = Get(f.port, "/healthz");
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, "no heartbeat since the process started 31.0 s ago (stale after 30 s)");

  f.server.Heartbeat();
  EXPECT_EQ(Get(f.port, "/healthz"), std::make_pair(200, std::string("ok")));
  f.clock.Advance(30s);  // stale only past the limit
  EXPECT_EQ(Get(f.port, "/healthz").first, 200);
  f.clock.Advance(5s);
  EXPECT_EQ(Get(f.port, "/healthz"), std::make_pair(503, std::string("no heartbeat for 35.0 s (stale after 30 s)")));
  f.server.Heartbeat();
  EXPECT_EQ(Get(f.port, "/healthz"), std::make_pair(200, std::string("ok")));
}

TEST(HealthServer, EveryLoopThatBeatsMustKeepBeating) {
  HealthOptions options;
  options.stale_after_seconds = 10;
  Fixture f(options);
  f.server.Heartbeat("timer");
  f.server.Heartbeat("leases");
  f.clock.Advance(8s);
  f.server.Heartbeat("timer");
  f.clock.Advance(4s);
  // The timer beat 4 s ago, the lease keeper 12 s ago: the process is not alive.
  auto [status, body] = Get(f.port, "/healthz");
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, "no heartbeat from the leases loop for 12.0 s (stale after 10 s)");
  EXPECT_FALSE(f.server.Liveness().ok());
  f.server.Heartbeat("leases");
  EXPECT_TRUE(f.server.Liveness().ok());
  EXPECT_EQ(Get(f.port, "/healthz").first, 200);
}

TEST(HealthServer, ReadyzNeedsSetReadyAndLiveness) {
  Fixture f;
  EXPECT_EQ(Get(f.port, "/readyz"), std::make_pair(503, std::string("starting")));
  f.server.SetReady(false, "the warehouse is unreachable: connection refused");
  EXPECT_EQ(Get(f.port, "/readyz"),
            std::make_pair(503, std::string("the warehouse is unreachable: connection refused")));
  f.server.SetReady(true);
  EXPECT_EQ(Get(f.port, "/readyz"), std::make_pair(200, std::string("ok")));
  f.server.Heartbeat();
  f.clock.Advance(45s);
  auto [status, body] = Get(f.port, "/readyz");
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, "not live: no heartbeat for 45.0 s (stale after 30 s)");
  f.server.Heartbeat();
  EXPECT_EQ(Get(f.port, "/readyz"), std::make_pair(200, std::string("ok")));
  f.server.SetReady(false);
  EXPECT_EQ(Get(f.port, "/readyz"), std::make_pair(503, std::string("not ready")));
}

TEST(HealthServer, MetricsServesTheExposition) {
  Fixture f;
  f.metrics.SetTablesOwned(2);
  f.metrics.RecordBuild("core.users", "built", 1);
  f.server.SetReady(true);
  auto res = Loopback(f.port).Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(res->body, StartsWith("# HELP derived_tables_owned "));
  EXPECT_THAT(res->body, HasSubstr("\nderived_tables_owned 2\n"));
  EXPECT_THAT(res->body, HasSubstr("\nderived_builds_total{table=\"core.users\",status=\"built\"} 1\n"));
  EXPECT_THAT(res->body, HasSubstr("\nderived_ready 1\n"));
  // derived_ready is what /readyz answers when scraped: a stale process is not ready.
  f.clock.Advance(31s);
  EXPECT_THAT(Get(f.port, "/metrics").second, HasSubstr("\nderived_ready 0\n"));
  f.server.Heartbeat();
  EXPECT_THAT(Get(f.port, "/metrics").second, HasSubstr("\nderived_ready 1\n"));
}

TEST(HealthServer, WithoutMetricsThereIsNoMetricsPath) {
  ManualMonotonicClock clock;
  HealthServer server(nullptr, &clock);
  auto port = server.Start(0);
  ASSERT_TRUE(port.ok()) << port.error().message;
  EXPECT_EQ(Get(*port, "/metrics").first, 404);
  EXPECT_EQ(Get(*port, "/healthz").first, 200);
}

TEST(HealthServer, OtherPathsAre404AndOtherMethods405) {
  Fixture f;
  f.server.SetReady(true);
  for (const char* path : {"/", "/healthz/", "/healthz/x", "/metricsx", "/v1/ping", "/HEALTHZ"}) {
    EXPECT_EQ(Get(f.port, path).first, 404) << path;
  }
  auto client = Loopback(f.port);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    std::vector<httplib::Result> answers;
    answers.push_back(client.Post(path, "x", "text/plain"));
    answers.push_back(client.Put(path, "x", "text/plain"));
    answers.push_back(client.Patch(path, "x", "text/plain"));
    answers.push_back(client.Delete(path));
    answers.push_back(client.Options(path));
    for (auto& res : answers) {
      ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
      EXPECT_EQ(res->status, 405) << path;
      EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD") << path;
    }
    // HEAD is GET without the body, as HTTP requires of every server.
    auto head = client.Head(path);
    ASSERT_TRUE(head) << path;
    EXPECT_EQ(head->status, 200) << path;
    EXPECT_EQ(head->body, "") << path;
  }
  // An unknown path is 404 whatever the method.
  auto post = client.Post("/nowhere", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
}

TEST(HealthServer, MalformedRequestsAreRefusedAndTheServerGoesOn) {
  Fixture f;
  EXPECT_THAT(RawExchange(f.port, "GARBAGE\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(RawExchange(f.port, std::string("\0\xff\x01\x02\r\n\r\n", 8)), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(RawExchange(f.port, "GET /healthz HTTP/9.9.9 extra\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  // Cut off in the middle of the headers, and headers past the request's byte budget.
  EXPECT_THAT(RawExchange(f.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Cut"),
              ::testing::Not(StartsWith("HTTP/1.1 200")));
  EXPECT_THAT(RawExchange(f.port, "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(200 << 10, 'a') + "\r\n\r\n"),
              ::testing::Not(StartsWith("HTTP/1.1 200")));
  // A body announced but never sent is not waited for: the method is refused first.
  EXPECT_THAT(RawExchange(f.port, "POST /metrics HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n"),
              StartsWith("HTTP/1.1 405"));
  EXPECT_EQ(RawExchange(f.port, ""), "");  // connected and left
  // A whole request in raw bytes is answered, and the server serves on.
  EXPECT_THAT(RawExchange(f.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(Get(f.port, "/healthz"), std::make_pair(200, std::string("ok")));
}

TEST(HealthServer, APortInUseIsRefusedAndAFreedOneTakenAgain) {
  Fixture first;
  ASSERT_GT(first.port, 0);
  HealthServer second(&first.metrics, &first.clock);
  auto refused = second.Start(first.port);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message,
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(first.port) + " for the health endpoint"));
  EXPECT_EQ(Get(first.port, "/healthz").first, 200);  // the first keeps its port

  // Once the first has stopped (its served connections in TIME_WAIT), the port is free.
  int port = 0;
  auto third = std::make_unique<HealthServer>(nullptr);
  {
    Fixture gone;
    port = gone.port;
    EXPECT_EQ(Get(port, "/healthz").first, 200);
  }
  auto again = third->Start(port);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, port);
  EXPECT_EQ(Get(port, "/healthz").first, 200);
}

TEST(HealthServer, StartRefusesABadAddressOrASecondStart) {
  HealthServer server(nullptr);
  HealthOptions options;
  options.bind_address = "not an address";
  auto bad = server.Start(0, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("cannot listen on not an address:0"));
  options.stale_after_seconds = 0;
  options.bind_address = "127.0.0.1";
  EXPECT_FALSE(server.Start(0, options).ok());
  ASSERT_TRUE(server.Start(0).ok());
  auto twice = server.Start(0);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.error().message, HasSubstr("already started"));
}

TEST(HealthServer, StopsAtOnceWhenDestroyedRightAfterStarting) {
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    HealthServer server(nullptr);
    ASSERT_TRUE(server.Start(0).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace
}  // namespace derived::health
