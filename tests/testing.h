// Helpers shared by tests: temporary project directories and running the binary.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace derived::testing {

// A fresh directory under the system temp dir, removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  // Writes `text` to path()/rel, creating folders as needed.
  void Write(const std::string& rel, const std::string& text) const;
  std::string Read(const std::string& rel) const;

 private:
  std::filesystem::path path_;
};

// A TCP connection to a loopback port (never any other address), closed on scope exit:
// for tests that play a client the server does not expect.
class LoopbackClient {
 public:
  explicit LoopbackClient(int port);
  ~LoopbackClient();
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;

  bool connected() const { return connected_; }
  // Sends one byte; false once the server has closed the connection (a first send after
  // the close may still be taken by the kernel).
  bool Send(char c) const;
  // True when the server has closed the connection: reading, without waiting, finds its end.
  bool Closed() const;

 private:
  int fd_;
  bool connected_ = false;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the built `derived` binary with `args` (no shell), capturing both streams.
CommandResult RunDerived(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// Runs the binary and kills it with SIGKILL after `after` unless it finished first.
// Returns true when it was killed.
bool RunDerivedAndKill(const std::vector<std::string>& args, std::chrono::milliseconds after,
                       const std::vector<std::string>& env = {});

// The binary running in the background (a service), stopped with a signal.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
  ~Background();  // SIGKILLs it if still running
  void Signal(int sig) const;
  // Waits for it to exit (at most `timeout`; then SIGKILL) and returns what it printed.
  CommandResult Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // What it printed to stdout, and to stderr, so far.
  std::string Output() const;
  std::string Errors() const;

 private:
  TempDir tmp_;
  int pid_ = -1;
};

}  // namespace derived::testing
