#include "service/control.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "util/files.h"

namespace fs = std::filesystem;

namespace derived {
namespace {

std::string NewToken() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
  return out;
}

bool Alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// Compares every byte whatever the first difference, so the time taken tells a caller
// guessing the token nothing about how much of it was right.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// An announcement is small; anything else in its place is not one.
constexpr size_t kMaxAnnouncementBytes = 4096;

std::optional<ServiceInfo> ReadAnnouncement(const std::string& file) {
  auto text = ReadFileLimited(file, kMaxAnnouncementBytes);
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["pid"].is_number_integer() || !j["port"].is_number_integer() || !j["token"].is_string()) {
    return std::nullopt;
  }
  int64_t pid = j["pid"].get<int64_t>(), port = j["port"].get<int64_t>();
  if (pid <= 0 || pid > INT32_MAX || port < 1 || port > 65535) return std::nullopt;
  return ServiceInfo{static_cast<int>(pid), static_cast<int>(port), j["token"].get<std::string>()};
}

nlohmann::json ErrorBody(const std::string& message) { return {{"error", message}}; }

// Commands are arguments and, at most, a query file's text.
constexpr size_t kMaxRequestBytes = size_t{64} << 20;
// The request line and headers besides: the CLI sends a handful of short ones.
constexpr size_t kMaxHeaderBytes = size_t{64} << 10;

}  // namespace

Result<std::vector<std::string>> ParseCommandRequest(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("args") || !j["args"].is_array()) {
    return Error("the body must be {\"args\": [\"command\", ...]}");
  }
  std::vector<std::string> args;
  for (const auto& a : j["args"]) {
    if (!a.is_string()) return Error("every element of 'args' must be a string");
    args.push_back(a.get<std::string>());
  }
  return args;
}

std::string ServiceFile(const std::string& project_dir) {
  return (fs::path(project_dir) / ".derived" / "service.json").string();
}

HttpLimits ControlServer::ControlLimits() {
  HttpLimits limits;
  limits.request_seconds = 5;
  limits.write_seconds = 5;
  limits.max_request_bytes = kMaxRequestBytes + kMaxHeaderBytes;
  limits.threads = 32;
  return limits;
}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& project_dir, CommandHandler handler,
                                                            const HttpLimits& limits) {
  std::string file = ServiceFile(project_dir);
  if (ServiceLookup other = LookUpService(project_dir); other.state != ServiceLookup::State::kNone) {
    return Error(fmt::format("the Derived service is already running for {} (pid {})", project_dir, other.info.pid));
  }
  std::unique_ptr<ControlServer> cs(new ControlServer());
  cs->server_ = NewBoundedServer(limits);
  std::string token = NewToken();
  // The token is checked before a request's body is read, and bodies are bounded: a
  // local process without the token can make the service neither read nor run anything.
  cs->server_->set_payload_max_length(kMaxRequestBytes);
  cs->server_->set_pre_routing_handler([expected = "Bearer " + token](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (SameSecret(req.get_header_value("Authorization"), expected)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_content(ErrorBody("missing or wrong token (see .derived/service.json)").dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  cs->server_->Get("/v1/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(nlohmann::json{{"pid", getpid()}}.dump(), "application/json");
  });
  cs->server_->Post("/v1/command", [handler](const httplib::Request& req, httplib::Response& res) {
    auto args = ParseCommandRequest(req.body);
    if (!args.ok()) {
      res.status = 400;
      res.set_content(ErrorBody(args.error().message).dump(), "application/json");
      return;
    }
    CommandResult r = handler(*args);
    // Query results may hold bytes that are not UTF-8: shown as U+FFFD, not a failure.
    res.set_content(nlohmann::json{{"exit_code", r.exit_code}, {"out", r.out}, {"err", r.err}}.dump(
                        -1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
  });
  cs->port_ = BindLoopback(cs->server_.get());
  if (cs->port_ <= 0) return Error("cannot listen on a loopback port for the control endpoint");
  if (auto st = CreatePrivateDirectories(fs::path(file).parent_path().string()); !st.ok()) return st.error();
  nlohmann::json doc = {{"pid", getpid()}, {"port", cs->port_}, {"token", token}};
  if (auto st = WritePrivateFile(file, doc.dump(2) + "\n"); !st.ok()) return st.error();
  cs->file_ = file;
  cs->thread_ = std::thread([s = cs->server_.get()] { s->listen_after_bind(); });
  return cs;
}

ControlServer::~ControlServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  // Only our own announcement: a newer service may have replaced a stale one.
  auto info = ReadAnnouncement(file_);
  std::error_code ec;
  if (!file_.empty() && info && info->pid == getpid()) fs::remove(file_, ec);
}

ServiceLookup LookUpService(const std::string& project_dir, double timeout_seconds) {
  ServiceLookup found;
  auto info = ReadAnnouncement(ServiceFile(project_dir));
  if (!info || !Alive(info->pid) || info->pid == getpid()) return found;
  found.info = *info;
  httplib::Client client("127.0.0.1", info->port);
  auto micros = static_cast<int64_t>(timeout_seconds * 1e6);
  client.set_connection_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_read_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_write_timeout(micros / 1'000'000, micros % 1'000'000);
  auto res = client.Get("/v1/ping", {{"Authorization", "Bearer " + info->token}});
  if (res && res->status == 200) {
    found.state = ServiceLookup::State::kAnswering;
  } else if (!res && res.error() == httplib::Error::Connection) {
    // Nothing listens on the port: the process that announced it is not (or no longer)
    // the service, whatever now has its pid.
  } else {
    found.state = ServiceLookup::State::kNotResponding;
    found.why = res ? fmt::format("it answered HTTP {}", res->status)
                    : fmt::format("no answer within {} s ({})", timeout_seconds, httplib::to_string(res.error()));
  }
  return found;
}

std::optional<ServiceInfo> FindService(const std::string& project_dir) {
  ServiceLookup found = LookUpService(project_dir);
  if (found.state != ServiceLookup::State::kAnswering) return std::nullopt;
  return found.info;
}

std::string NotRespondingMessage(const ServiceInfo& service, const std::string& why) {
  return fmt::format("the Derived service is not responding (pid {}, port {}): {}", service.pid, service.port, why);
}

Result<CommandResult> SendCommand(const ServiceInfo& service, const std::vector<std::string>& args) {
  httplib::Client client("127.0.0.1", service.port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(24 * 3600, 0);  // a backfill may take hours
  std::string body;
  try {
    body = nlohmann::json{{"args", args}}.dump();
  } catch (const nlohmann::json::type_error&) {
    return Error("the command's arguments (or --file) are not UTF-8 text, which the Derived service needs");
  }
  if (body.size() > kMaxRequestBytes) {
    return Error(fmt::format("the command is larger than the Derived service accepts ({} MB)",
                             kMaxRequestBytes >> 20));
  }
  auto res = client.Post("/v1/command", {{"Authorization", "Bearer " + service.token}}, body, "application/json");
  if (!res) return Error(NotRespondingMessage(service, httplib::to_string(res.error())));
  auto j = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200 || !j.is_object() || !j["exit_code"].is_number_integer()) {
    std::string why = j.is_object() && j["error"].is_string() ? j["error"].get<std::string>() : res->body;
    return Error(fmt::format("the Derived service (pid {}) refused the command: {}", service.pid, why));
  }
  return CommandResult{j["exit_code"].get<int>(), j.value("out", ""), j.value("err", "")};
}

}  // namespace derived
