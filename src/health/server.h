// The health endpoint of one updater process (issue 12), for Kubernetes probes and a
// Prometheus scrape:
//   GET /healthz  200 "ok" while every loop that beats has beaten within stale_after_seconds
//                 (measured on an injected MonotonicClock), else 503 naming the stale loop;
//   GET /readyz   200 "ok" when SetReady(true) was called and /healthz passes, else 503
//                 with the reason;
//   GET /metrics  200, FleetMetrics::Exposition(), text/plain; version=0.0.4 (derived_ready
//                 set to what /readyz answers at that moment).
// Any other path is 404; any other method on these paths 405 (HEAD is answered as GET, as
// HTTP requires). Requests are bounded in size and time (service/bounded_server.h).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "health/metrics.h"
#include "service/bounded_server.h"
#include "time/clock.h"
#include "util/status.h"

namespace httplib {
class Server;
}

namespace derived::health {

struct HealthOptions {
  // Where to listen: loopback by default; "0.0.0.0" (or "::") in a pod, for the kubelet.
  std::string bind_address = "127.0.0.1";
  double stale_after_seconds = 30;
  // A probe's request is a few short lines; a worker is held at most request_seconds.
  HttpLimits limits = {.request_seconds = 2, .write_seconds = 10, .max_request_bytes = 64 << 10, .threads = 4};
};

class HealthServer {
 public:
  // `metrics` (may be null: /metrics then answers 404) and `clock` (null: the steady
  // clock) are not owned and must outlive the server. Until the first Heartbeat, the
  // construction counts as one.
  explicit HealthServer(FleetMetrics* metrics, const MonotonicClock* clock = nullptr);
  ~HealthServer();  // stops serving and joins the server's thread
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Listens on options.bind_address:port (0: a port the OS picks) and serves on a thread
  // of its own. Returns the port, or why not (the port is in use, not an address of this
  // machine, a second Start).
  Result<int> Start(int port, const HealthOptions& options = {});
  int port() const { return port_; }

  // The loop `loop` is alive now. Every loop that has beaten once must keep beating:
  // /healthz fails when any one of them has not for stale_after_seconds. A few fixed
  // names ("timer", "leases", ...), or the default one. Thread-safe, cheap.
  void Heartbeat(std::string_view loop = "");
  // What /readyz reports, besides liveness (the caller decides: project loaded,
  // warehouse reachable, leases taken at least once). `reason` says why not when !ready.
  void SetReady(bool ready, std::string reason = "");

  // What /healthz and /readyz answer: ok, or the reason for the 503. Thread-safe.
  Status Liveness() const;
  Status Readiness() const;

 private:
  FleetMetrics* const metrics_;
  SteadyMonotonicClock steady_;
  const MonotonicClock* const clock_;

  mutable std::mutex mu_;
  double stale_after_seconds_ = HealthOptions{}.stale_after_seconds;  // guarded by mu_
  const MonotonicClock::time_point constructed_;
  std::map<std::string, MonotonicClock::time_point, std::less<>> beats_;  // guarded by mu_
  bool ready_ = false;                                                    // guarded by mu_
  std::string not_ready_reason_ = "starting";                             // guarded by mu_

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace derived::health
