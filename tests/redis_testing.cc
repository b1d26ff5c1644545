#include "redis_testing.h"

#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace derived::testing {
namespace {

// A port nobody listens on now (the kernel's pick for an ephemeral bind).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Answers(int port) {
  timeval tv{0, 200'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool up = false;
  if (c && !c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    up = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return up;
}

}  // namespace

RedisServer::RedisServer() {
  char tmpl[] = "/tmp/derived-redis.XXXXXX";
  if (!mkdtemp(tmpl)) {
    why_ = "cannot make a folder for redis-server";
    return;
  }
  dir_ = tmpl;
  for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
    int port = FreeLoopbackPort();
    if (port == 0) continue;
    std::vector<std::string> args = {"redis-server",      "--bind",          "127.0.0.1",     "--port",
                                     std::to_string(port), "--dir",          dir_,           "--save",
                                     "",                  "--appendonly",    "no",           "--protected-mode",
                                     "yes",               "--logfile",       dir_ + "/log"};
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    if (pid < 0) break;
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      if (Answers(port)) {
        pid_ = pid;
        port_ = port;
        break;
      }
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // it exited: the port was taken, try another
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (port_ == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  if (port_ == 0) why_ = "redis-server did not start (is it installed? scripts/bootstrap.sh installs it)";
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace derived::testing
