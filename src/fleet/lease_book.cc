#include "fleet/lease_book.h"

#include <unistd.h>

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

std::string ProcessOwner() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  return fmt::format("{}:{}", host[0] ? host : "localhost", static_cast<long>(getpid()));
}

}  // namespace derived::fleet
