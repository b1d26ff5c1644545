// The running service's control endpoint. An embedded DuckDB file has one writing
// process, so while the service runs, every CLI command that needs the warehouse is
// sent to it and runs inside it. The endpoint is HTTP on a loopback port the OS picks,
// announced in <project>/.derived/service.json with the service's pid and a random token;
// only the file's owner can read the token, and every request must carry it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/status.h"

namespace httplib {
class Server;
}

namespace derived {

// What a command printed and its exit code.
struct CommandResult {
  int exit_code = 0;
  std::string out, err;
};
using CommandHandler = std::function<CommandResult(const std::vector<std::string>& args)>;

class ControlServer {
 public:
  // Listens and announces the endpoint. Fails when another live service announced one.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& project_dir, CommandHandler handler);
  ~ControlServer();  // stops listening and removes the announcement
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int port() const { return port_; }

 private:
  ControlServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string file_;
  int port_ = 0;
};

// The arguments of a /v1/command request body, {"args": ["command", ...]}; an error (the
// service answers 400 with it) for anything else. Pure: the fuzzer calls it without sockets.
Result<std::vector<std::string>> ParseCommandRequest(std::string_view body);

struct ServiceInfo {
  int pid = 0;
  int port = 0;
  std::string token;
};

// The path of the announcement file for a project.
std::string ServiceFile(const std::string& project_dir);

// The project's running service, or nullopt when none answers (no announcement, or a
// stale one left by a process that died).
std::optional<ServiceInfo> FindService(const std::string& project_dir);

// Runs a command in the service; an error when the service cannot be reached.
Result<CommandResult> SendCommand(const ServiceInfo& service, const std::vector<std::string>& args);

}  // namespace derived
