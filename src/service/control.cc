#include "service/control.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

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

std::optional<ServiceInfo> ReadAnnouncement(const std::string& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["pid"].is_number_integer() || !j["port"].is_number_integer() || !j["token"].is_string()) {
    return std::nullopt;
  }
  return ServiceInfo{j["pid"].get<int>(), j["port"].get<int>(), j["token"].get<std::string>()};
}

// Writes the file readable by its owner only, whole or not at all.
Status WritePrivate(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  // A fresh file, never one left behind (which keeps its mode) or a symlink planted there.
  unlink(tmp.c_str());
  int fd = open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Error(fmt::format("cannot write {}: {}", tmp, strerror(errno)));
  bool ok = fchmod(fd, 0600) == 0;
  ok = ok && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) return Error(fmt::format("cannot write {}", path));
  return Status::Ok();
}

nlohmann::json ErrorBody(const std::string& message) { return {{"error", message}}; }

// Commands are arguments and, at most, a query file's text.
constexpr size_t kMaxRequestBytes = size_t{64} << 20;

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

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& project_dir, CommandHandler handler) {
  std::string file = ServiceFile(project_dir);
  if (auto other = FindService(project_dir)) {
    return Error(fmt::format("the Derived service is already running for {} (pid {})", project_dir, other->pid));
  }
  std::unique_ptr<ControlServer> cs(new ControlServer());
  cs->server_ = std::make_unique<httplib::Server>();
  std::string token = NewToken();
  // The token is checked before a request's body is read, and bodies are bounded: a
  // local process without the token can make the service neither read nor run anything.
  cs->server_->set_payload_max_length(kMaxRequestBytes);
  cs->server_->set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") == "Bearer " + token) return httplib::Server::HandlerResponse::Unhandled;
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
  cs->port_ = cs->server_->bind_to_any_port("127.0.0.1");
  if (cs->port_ <= 0) return Error("cannot listen on a loopback port for the control endpoint");
  std::error_code ec;
  fs::create_directories(fs::path(file).parent_path(), ec);
  nlohmann::json doc = {{"pid", getpid()}, {"port", cs->port_}, {"token", token}};
  if (auto st = WritePrivate(file, doc.dump(2) + "\n"); !st.ok()) return st.error();
  cs->file_ = file;
  cs->thread_ = std::thread([s = cs->server_.get()] { s->listen_after_bind(); });
  return cs;
}

ControlServer::~ControlServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  // Only our own announcement: a newer service may have replaced a stale one.
  auto info = ReadAnnouncement(file_);
  if (!file_.empty() && info && info->pid == getpid()) fs::remove(file_);
}

std::optional<ServiceInfo> FindService(const std::string& project_dir) {
  auto info = ReadAnnouncement(ServiceFile(project_dir));
  if (!info || !Alive(info->pid) || info->pid == getpid()) return std::nullopt;
  httplib::Client client("127.0.0.1", info->port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  auto res = client.Get("/v1/ping", {{"Authorization", "Bearer " + info->token}});
  if (!res || res->status != 200) return std::nullopt;
  return info;
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
  if (!res) {
    return Error(fmt::format("the Derived service (pid {}) did not answer: {}", service.pid,
                             httplib::to_string(res.error())));
  }
  auto j = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200 || !j.is_object() || !j["exit_code"].is_number_integer()) {
    std::string why = j.is_object() && j["error"].is_string() ? j["error"].get<std::string>() : res->body;
    return Error(fmt::format("the Derived service (pid {}) refused the command: {}", service.pid, why));
  }
  return CommandResult{j["exit_code"].get<int>(), j.value("out", ""), j.value("err", "")};
}

}  // namespace derived
