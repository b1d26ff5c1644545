// The running service's control endpoint. An embedded DuckDB file has one writing
// process, so while the service runs, every CLI command that needs the warehouse is
// sent to it and runs inside it. The endpoint is HTTP on a loopback port the OS picks,
// announced in <project>/.derived/service.json with the service's pid and a random token;
// only the file's owner can read the token, and every request must carry it (compared in
// constant time). Requests are bounded in size and time (service/bounded_server.h), so
// local processes without the token, however slow or many, cannot starve the CLI.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "service/bounded_server.h"
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
  // `limits`: the defaults suit the CLI (whose requests arrive at once); tests shorten them.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& project_dir, CommandHandler handler,
                                                      const HttpLimits& limits = ControlLimits());
  // The control endpoint's bounds: a command's request (at most a query file's text) must
  // arrive whole within 5 seconds; 32 are served at once.
  static HttpLimits ControlLimits();
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

// How long a client waits for the service to answer a ping (DERIVED_SERVICE_TIMEOUT, in
// seconds, overrides it for the CLI).
inline constexpr double kDefaultPingSeconds = 5;

// What the project's announcement says about its service.
struct ServiceLookup {
  enum class State {
    kNone,           // no announcement, or a stale one (its process died, nothing listens on its port)
    kAnswering,      // the service answered a ping with the token
    kNotResponding,  // its process lives and something holds its port, but no answer came
  };
  State state = State::kNone;
  ServiceInfo info;  // set unless kNone
  std::string why;   // kNotResponding: what went wrong, e.g. "Read" (timed out)
};
ServiceLookup LookUpService(const std::string& project_dir, double timeout_seconds = kDefaultPingSeconds);

// The project's running service when it answers (LookUpService's kAnswering), else nullopt.
std::optional<ServiceInfo> FindService(const std::string& project_dir);

// Runs a command in the service; an error when the service cannot be reached.
Result<CommandResult> SendCommand(const ServiceInfo& service, const std::vector<std::string>& args);

// "the Derived service is not responding (pid N, port P): why": how the CLI reports a
// service that announced itself but does not answer.
std::string NotRespondingMessage(const ServiceInfo& service, const std::string& why);

}  // namespace derived
