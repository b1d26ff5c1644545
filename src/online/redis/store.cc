#include "online/redis/store.h"

#include <hiredis.h>

#include <cmath>
#include <mutex>

#include <fmt/format.h>

namespace derived::online {
namespace {

constexpr size_t kScanStep = 1000;

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

// `prefix` as a SCAN pattern matching exactly the keys that begin with it.
std::string GlobPrefix(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out + "*";
}

class RedisStore final : public OnlineStore {
 public:
  explicit RedisStore(RedisOptions options) : options_(std::move(options)) {}
  ~RedisStore() override {
    if (ctx_) redisFree(ctx_);
  }

  Status Connect() {
    if (ctx_) redisFree(ctx_);
    timeval tv{static_cast<time_t>(options_.timeout_seconds),
               static_cast<suseconds_t>(std::fmod(options_.timeout_seconds, 1.0) * 1e6)};
    ctx_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
    if (!ctx_ || ctx_->err) {
      std::string why = ctx_ ? ctx_->errstr : "out of memory";
      if (ctx_) redisFree(ctx_);
      ctx_ = nullptr;
      return Error(fmt::format("cannot connect to Redis at {}:{}: {}", options_.host, options_.port, why));
    }
    redisSetTimeout(ctx_, tv);
    if (!options_.password.empty()) {
      if (auto r = Command({"AUTH", options_.password}); !r.ok()) return r.error();
    }
    if (options_.database != 0) {
      if (auto r = Command({"SELECT", std::to_string(options_.database)}); !r.ok()) return r.error();
    }
    return Status::Ok();
  }

  Status Put(const std::vector<Entry>& batch) override {
    std::lock_guard lock(mu_);
    std::vector<std::vector<std::string>> commands = {{"MULTI"}};
    for (const auto& e : batch) {
      if (e.key.empty()) return Error("an online key cannot be empty");
      if (e.ttl_seconds > 0) {
        commands.push_back({"SET", e.key, e.value, "EX", std::to_string(e.ttl_seconds)});
      } else {
        commands.push_back({"SET", e.key, e.value});
      }
    }
    commands.push_back({"EXEC"});
    return Transaction(commands);
  }

  Status Delete(const std::vector<std::string>& keys) override {
    std::vector<std::string> args = {"DEL"};
    for (const auto& k : keys) {
      if (!k.empty()) args.push_back(k);
    }
    if (args.size() == 1) return Status::Ok();
    std::lock_guard lock(mu_);
    auto r = Command(args);
    return r.ok() ? Status::Ok() : Status(r.error());
  }

  Result<std::vector<std::optional<std::string>>> Get(const std::vector<std::string>& keys) override {
    std::vector<std::optional<std::string>> out;
    if (keys.empty()) return out;
    std::vector<std::string> args = {"MGET"};
    args.insert(args.end(), keys.begin(), keys.end());
    std::lock_guard lock(mu_);
    auto r = Command(args);
    if (!r.ok()) return r.error();
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size()) return Error("Redis: MGET gave another answer");
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* e = reply->element[i];
      if (e->type == REDIS_REPLY_STRING) {
        out.emplace_back(std::string(e->str, e->len));
      } else {
        out.emplace_back();
      }
    }
    return out;
  }

  Result<int64_t> DeletePrefix(std::string_view prefix) override {
    if (prefix.empty()) return Error("refusing to delete every key: the prefix is empty");
    const std::string pattern = GlobPrefix(prefix);
    int64_t total = 0;
    std::string cursor = "0";
    std::lock_guard lock(mu_);
    do {
      auto r = Command({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanStep)});
      if (!r.ok()) return r.error();
      const redisReply* reply = r->get();
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return Error("Redis: SCAN gave another answer");
      cursor = std::string(reply->element[0]->str, reply->element[0]->len);
      std::vector<std::string> del = {"DEL"};
      const redisReply* keys = reply->element[1];
      for (size_t i = 0; i < keys->elements; ++i) {
        std::string key(keys->element[i]->str, keys->element[i]->len);
        if (key.compare(0, prefix.size(), prefix) == 0) del.push_back(std::move(key));  // the pattern's promise, checked
      }
      if (del.size() > 1) {
        auto d = Command(del);
        if (!d.ok()) return d.error();
        total += d->get()->integer;
      }
    } while (cursor != "0");
    return total;
  }

 private:
  Result<Reply> Command(const std::vector<std::string>& args) {
    if (!ctx_) {
      if (auto st = Connect(); !st.ok()) return st.error();
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* raw = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    return Checked(raw);
  }

  // Sends every command at once (a pipeline) and reads every reply; the last must be
  // EXEC's array, or nothing was applied.
  Status Transaction(const std::vector<std::vector<std::string>>& commands) {
    if (!ctx_) {
      if (auto st = Connect(); !st.ok()) return st;
    }
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK) {
        return Lost();
      }
    }
    Status first = Status::Ok();
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK) return Lost();
      auto reply = Checked(static_cast<redisReply*>(raw));
      if (!reply.ok() && first.ok()) first = reply.error();
      if (i + 1 == commands.size() && reply.ok() && reply->get()->type != REDIS_REPLY_ARRAY) {
        return Error("Redis: the batch was not applied (EXEC aborted)");
      }
    }
    return first;
  }

  Result<Reply> Checked(redisReply* raw) {
    if (!raw) return Lost().error();
    Reply reply(raw, freeReplyObject);
    if (reply->type == REDIS_REPLY_ERROR) return Error("Redis: " + std::string(reply->str, reply->len));
    return reply;
  }

  // The connection is unusable after an I/O error: the next call opens another.
  Status Lost() {
    std::string why = ctx_ && ctx_->err ? ctx_->errstr : "no reply";
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    return Error(fmt::format("Redis at {}:{}: {}", options_.host, options_.port, why));
  }

  RedisOptions options_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<OnlineStore>> OpenRedisStore(const RedisOptions& options) {
  auto s = std::make_unique<RedisStore>(options);
  if (auto st = s->Connect(); !st.ok()) return st.error();
  return std::unique_ptr<OnlineStore>(std::move(s));
}

}  // namespace derived::online
