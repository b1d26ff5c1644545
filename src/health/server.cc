#include "health/server.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

namespace derived::health {
namespace {

constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

void Answer(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kTextType);
}

// "127.0.0.1:8080", "[::]:8080".
std::string HostPort(const std::string& address, int port) {
  return address.find(':') == std::string::npos ? fmt::format("{}:{}", address, port)
                                                : fmt::format("[{}]:{}", address, port);
}

}  // namespace

HealthServer::HealthServer(FleetMetrics* metrics, const MonotonicClock* clock)
    : metrics_(metrics), clock_(clock != nullptr ? clock : &steady_), constructed_(clock_->Now()) {}

HealthServer::~HealthServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

Result<int> HealthServer::Start(int port, const HealthOptions& options) {
  if (server_) return Error("the health endpoint is already started");
  if (!(options.stale_after_seconds > 0)) return Error("stale_after_seconds must be more than 0");
  {
    std::lock_guard lock(mu_);
    stale_after_seconds_ = options.stale_after_seconds;
  }
  auto server = NewBoundedServer(options.limits);
  // Path first, then method: an unknown path is 404 whatever the method, and a request
  // refused here has its body left unread.
  server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    bool known = req.path == "/healthz" || req.path == "/readyz" || (req.path == "/metrics" && metrics_ != nullptr);
    if (!known) {
      Answer(res, 404, "not found: the health endpoint serves /healthz, /readyz and /metrics");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      Answer(res, 405, "method not allowed: only GET");
      res.set_header("Allow", "GET, HEAD");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    Status live = Liveness();
    Answer(res, live.ok() ? 200 : 503, live.ok() ? "ok" : live.error().message);
  });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    Status ready = Readiness();
    Answer(res, ready.ok() ? 200 : 503, ready.ok() ? "ok" : ready.error().message);
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    metrics_->SetReady(Readiness().ok());
    res.set_content(metrics_->Exposition(), kExpositionType);
  });

  errno = 0;
  int bound = BindAddress(server.get(), options.bind_address, port);
  if (bound <= 0) {
    std::string why = errno != 0 ? std::strerror(errno) : "not an address of this machine";
    return Error(fmt::format("cannot listen on {} for the health endpoint: {}", HostPort(options.bind_address, port),
                             why));
  }
  server_ = std::move(server);
  port_ = bound;
  thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  // httplib's stop() does nothing until the server runs: wait for it, so that the
  // destructor never joins a thread that would then serve for ever.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) return Error("the health endpoint did not start serving");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return bound;
}

void HealthServer::Heartbeat(std::string_view loop) {
  auto now = clock_->Now();
  std::lock_guard lock(mu_);
  auto it = beats_.find(loop);
  if (it == beats_.end()) {
    beats_.emplace(std::string(loop), now);
  } else {
    it->second = now;
  }
}

void HealthServer::SetReady(bool ready, std::string reason) {
  if (metrics_ != nullptr) metrics_->SetReady(ready && Liveness().ok());
  std::lock_guard lock(mu_);
  ready_ = ready;
  not_ready_reason_ = ready ? "" : reason.empty() ? "not ready" : std::move(reason);
}

Status HealthServer::Liveness() const {
  auto now = clock_->Now();
  auto age = [&](MonotonicClock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  std::lock_guard lock(mu_);
  const double limit = stale_after_seconds_;
  if (beats_.empty()) {
    double a = age(constructed_);
    if (a <= limit) return Status::Ok();
    return Error(fmt::format("no heartbeat since the process started {:.1f} s ago (stale after {} s)", a, limit));
  }
  std::vector<std::string> stale;
  for (const auto& [loop, at] : beats_) {
    double a = age(at);
    if (a <= limit) continue;
    stale.push_back(loop.empty() ? fmt::format("no heartbeat for {:.1f} s", a)
                                 : fmt::format("no heartbeat from the {} loop for {:.1f} s", loop, a));
  }
  if (stale.empty()) return Status::Ok();
  return Error(fmt::format("{} (stale after {} s)", fmt::join(stale, "; "), limit));
}

Status HealthServer::Readiness() const {
  if (Status live = Liveness(); !live.ok()) return Error("not live: " + live.error().message);
  std::lock_guard lock(mu_);
  if (!ready_) return Error(not_ready_reason_);
  return Status::Ok();
}

}  // namespace derived::health
