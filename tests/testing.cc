#include "testing.h"

#include <arpa/inet.h>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <csignal>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace derived::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("derived-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::Write(const std::string& rel, const std::string& text) const {
  fs::path p = path_ / rel;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

std::string TempDir::Read(const std::string& rel) const {
  std::ifstream f(path_ / rel, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

LoopbackClient::LoopbackClient(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

LoopbackClient::~LoopbackClient() { close(fd_); }

bool LoopbackClient::Send(char c) const { return send(fd_, &c, 1, MSG_NOSIGNAL) == 1; }

bool LoopbackClient::Closed() const {
  char c;
  ssize_t n = recv(fd_, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

namespace {
std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}
}  // namespace

namespace {

// Starts the binary with stdout and stderr redirected to files; returns its pid. With
// posix_spawn, not fork: the test process has threads (DuckDB's among them), and a fork
// would run their atfork handlers and copy their locks into the child.
pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out_path,
            const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // This process's environment, with `env` ("NAME=value") set over it.
  std::vector<std::string> vars;
  for (char** e = environ; *e; ++e) {
    std::string var = *e;
    std::string name = var.substr(0, var.find('='));
    bool replaced = false;
    for (const auto& mine : env) replaced = replaced || mine.substr(0, mine.find('=')) == name;
    if (!replaced) vars.push_back(var);
  }
  vars.insert(vars.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::string bin = DERIVED_BINARY;
  std::vector<char*> argv;
  argv.push_back(bin.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed: " + std::string(std::strerror(rc)));
  return pid;
}

std::string ReadPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return "";
  std::string s = ReadAll(fd);
  close(fd);
  return s;
}

}  // namespace

CommandResult RunDerived(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  // Outputs go to temporary files so large outputs cannot deadlock a pipe.
  TempDir tmp;
  std::string out_path = tmp.str() + "/out", err_path = tmp.str() + "/err";
  pid_t pid = Spawn(args, env, out_path, err_path);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadPath(out_path);
  r.err = ReadPath(err_path);
  return r;
}

bool RunDerivedAndKill(const std::vector<std::string>& args, std::chrono::milliseconds after,
                       const std::vector<std::string>& env) {
  TempDir tmp;
  pid_t pid = Spawn(args, env, tmp.str() + "/out", tmp.str() + "/err");
  auto deadline = std::chrono::steady_clock::now() + after;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // finished on its own
    usleep(2000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return true;
}

Background::Background(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  pid_ = Spawn(args, env, tmp_.str() + "/out", tmp_.str() + "/err");
}

Background::~Background() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Background::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

std::string Background::Output() const { return ReadPath(tmp_.str() + "/out"); }
std::string Background::Errors() const { return ReadPath(tmp_.str() + "/err"); }

CommandResult Background::Wait(std::chrono::milliseconds timeout) {
  CommandResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool done = false;
  while (pid_ > 0 && !done && std::chrono::steady_clock::now() < deadline) {
    done = waitpid(pid_, &status, WNOHANG) == pid_;
    if (!done) usleep(10000);
  }
  if (!done && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  r.exit_code = done && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadPath(tmp_.str() + "/out");
  r.err = ReadPath(tmp_.str() + "/err");
  return r;
}

}  // namespace derived::testing
