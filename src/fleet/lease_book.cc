#include "fleet/lease_book.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>

#include <fmt/format.h>

namespace derived::fleet {

std::optional<LeaseToken> LeaseBook::Token(const std::string& table) const {
  std::lock_guard lock(mu_);
  auto it = held_.find(table);
  if (it == held_.end()) return std::nullopt;
  return LeaseToken{owner_, it->second};
}

std::map<std::string, int64_t> LeaseBook::Held() const {
  std::lock_guard lock(mu_);
  return held_;
}

void LeaseBook::Add(const std::map<std::string, int64_t>& taken) {
  std::lock_guard lock(mu_);
  for (const auto& [t, g] : taken) held_[t] = g;
}

std::vector<std::string> LeaseBook::Keep(const std::map<std::string, int64_t>& still_held) {
  std::lock_guard lock(mu_);
  std::vector<std::string> lost;
  for (auto it = held_.begin(); it != held_.end();) {
    auto now = still_held.find(it->first);
    if (now == still_held.end() || now->second != it->second) {
      lost.push_back(it->first);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  return lost;
}

void LeaseBook::Forget(const std::vector<std::string>& tables) {
  std::lock_guard lock(mu_);
  for (const auto& t : tables) held_.erase(t);
}

std::string DefaultOwner() {
  if (const char* name = std::getenv("DERIVED_OWNER"); name && *name) return name;
  return ProcessOwner();
}

namespace {
std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  return host[0] ? host : "localhost";
}
}  // namespace

bool DeadHere(const std::string& owner) {
  size_t colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != HostName()) return false;
  const std::string digits = owner.substr(colon + 1);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  long pid = std::stol(digits);
  if (pid <= 1 || pid == static_cast<long>(getpid())) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string ProcessOwner() { return fmt::format("{}:{}", HostName(), static_cast<long>(getpid())); }

}  // namespace derived::fleet
