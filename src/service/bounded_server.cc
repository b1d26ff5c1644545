#include "service/bounded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

#include <httplib.h>

namespace derived {
namespace {

using SteadyClock = std::chrono::steady_clock;

// When the connection a worker runs was accepted: set by StampedPool just before the
// connection's task runs on that worker's thread, read by the server's handling of it.
thread_local SteadyClock::time_point t_accepted;

// The thread pool httplib would make, but each task carries its accept time, so a
// connection that waited in the queue for a worker gets no extra time.
class StampedPool final : public httplib::TaskQueue {
 public:
  explicit StampedPool(size_t threads) : pool_(threads) {}
  void enqueue(std::function<void()> fn) override {
    pool_.enqueue([fn = std::move(fn), accepted = SteadyClock::now()] {
      t_accepted = accepted;
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
};

// A socket read against one deadline and a byte budget, and written with a timeout per
// write. Past the deadline it still takes what has already arrived (a whole request that
// waited in the queue is served), but never waits for more.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int sock, SteadyClock::time_point deadline, size_t budget, std::chrono::milliseconds write_timeout)
      : sock_(sock), deadline_(deadline), budget_(budget), write_timeout_(write_timeout) {}

  bool is_readable() const override { return used_ < filled_ || Wait(POLLIN, Remaining()); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (used_ == filled_) {
      if (budget_ == 0 || !Wait(POLLIN, Remaining())) return -1;
      ssize_t n;
      do {
        n = recv(sock_, buffer_, std::min(sizeof buffer_, budget_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      budget_ -= static_cast<size_t>(n);
      used_ = 0;
      filled_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, filled_ - used_);
    std::memcpy(ptr, buffer_ + used_, n);
    used_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!Wait(POLLOUT, write_timeout_)) return -1;
    ssize_t n;
    do {
      n = send(sock_, ptr, size, MSG_NOSIGNAL);  // a client gone mid-answer is not a SIGPIPE
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(getsockname, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  std::chrono::milliseconds Remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  // Whether the socket is ready for `events` within `timeout` (0: only if it is now).
  bool Wait(short events, std::chrono::milliseconds timeout) const {
    auto until = SteadyClock::now() + timeout;
    for (;;) {
      pollfd p{sock_, events, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
      int r = poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
      if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
      if (r == 0 || errno != EINTR) return false;
    }
  }

  void Address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = 0;
    if (get(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* in = reinterpret_cast<sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof text);
      port = ntohs(in->sin6_port);
    }
    ip = text;
  }

  int sock_;
  SteadyClock::time_point deadline_;
  size_t budget_;  // bytes the request may still read
  std::chrono::milliseconds write_timeout_;
  char buffer_[4096];
  size_t used_ = 0, filled_ = 0;
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

class BoundedServer final : public httplib::Server {
 public:
  explicit BoundedServer(const HttpLimits& limits) : limits_(limits) {
    new_task_queue = [threads = static_cast<size_t>(std::max(limits.threads, 1))] { return new StampedPool(threads); };
    set_payload_max_length(limits.max_request_bytes);
  }

 private:
  // Replaces httplib's handling of an accepted connection: one request, bounded as above.
  bool process_and_close_socket(socket_t sock) override {
    DeadlineStream stream(sock, t_accepted + Millis(limits_.request_seconds), limits_.max_request_bytes,
                          Millis(limits_.write_seconds));
    bool closed = false;
    bool ok = process_request(stream, /*close_connection=*/true, closed, nullptr);
    shutdown(sock, SHUT_RDWR);
    close(sock);
    return ok;
  }

  HttpLimits limits_;
  friend int derived::BindLoopback(httplib::Server* server);
  friend int derived::BindAddress(httplib::Server* server, const std::string& address, int port);
};

}  // namespace

int BindLoopback(httplib::Server* server) {
  auto* bounded = dynamic_cast<BoundedServer*>(server);
  if (bounded == nullptr) return -1;
  int port = bounded->bind_to_any_port("127.0.0.1");
  // Listening again on a listening socket only changes its backlog.
  if (port > 0 && listen(bounded->svr_sock_, SOMAXCONN) != 0) return -1;
  return port;
}

int BindAddress(httplib::Server* server, const std::string& address, int port) {
  auto* bounded = dynamic_cast<BoundedServer*>(server);
  if (bounded == nullptr || port < 0 || port > 65535) return -1;
  // SO_REUSEADDR only: a restart binds at once past connections in TIME_WAIT, but a port
  // another process listens on is refused rather than shared with it.
  bounded->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (port == 0) {
    port = bounded->bind_to_any_port(address);
  } else if (!bounded->bind_to_port(address, port)) {
    port = -1;
  }
  if (port > 0 && listen(bounded->svr_sock_, SOMAXCONN) != 0) return -1;
  return port;
}

std::unique_ptr<httplib::Server> NewBoundedServer(const HttpLimits& limits) {
  return std::make_unique<BoundedServer>(limits);
}

}  // namespace derived
