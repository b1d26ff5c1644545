#include "crash/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "sql/text.h"

namespace derived::crash {
namespace {

struct Config {
  std::string at;   // the point's name
  int64_t nth = 1;  // which time it is passed
  std::string log;
  bool enabled = false;
};

const Config& Settings() {
  static const Config config = [] {
    Config c;
    if (const char* at = std::getenv("DERIVED_CRASH_AT"); at && *at) {
      c.at = at;
      if (auto hash = c.at.rfind('#'); hash != std::string::npos) {
        c.nth = std::max<int64_t>(1, std::atoll(c.at.c_str() + hash + 1));
        c.at.resize(hash);
      }
    }
    if (const char* log = std::getenv("DERIVED_CRASH_LOG"); log && *log) c.log = log;
    c.enabled = !c.at.empty() || !c.log.empty();
    return c;
  }();
  return config;
}

thread_local std::string t_scope;  // joined names of the open scopes
thread_local int t_ordinal = 0;    // statements so far in the innermost scope

std::mutex g_mu;
std::map<std::string, int64_t> g_seen;  // guarded by g_mu

}  // namespace

bool Enabled() { return Settings().enabled; }

Scope::Scope(std::string_view name) : saved_length_(t_scope.size()), saved_ordinal_(t_ordinal) {
  if (!Enabled()) return;
  if (!t_scope.empty()) t_scope += '.';
  t_scope += name;
  t_ordinal = 0;
}

Scope::~Scope() {
  if (!Enabled()) return;
  t_scope.resize(saved_length_);
  t_ordinal = saved_ordinal_;
}

void Statement(std::string_view sql, bool after) {
  const Config& c = Settings();
  if (!c.enabled) return;
  if (!after) ++t_ordinal;
  std::string verb = sql::FirstWord(sql);
  std::string name = (t_scope.empty() ? std::string("engine") : t_scope) + "." + std::to_string(t_ordinal) + "." +
                     (verb.empty() ? "statement" : verb) + (after ? ".after" : ".before");
  std::lock_guard lock(g_mu);
  int64_t n = ++g_seen[name];
  if (!c.log.empty()) {
    if (FILE* f = std::fopen(c.log.c_str(), "a")) {
      std::fprintf(f, "%s#%lld\n", name.c_str(), static_cast<long long>(n));
      std::fclose(f);
    }
  }
  if (name == c.at && n == c.nth) kill(getpid(), SIGKILL);
}

}  // namespace derived::crash
