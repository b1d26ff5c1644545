// What every online store must do (online/store.h), run against each store there is: the
// embedded LMDB store in a temporary folder, and a real Redis server this test starts on
// a free loopback port. A new store adds its factory to Stores().
#include <hiredis.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include <fmt/format.h>

#include "online/lmdb/store.h"
#include "online/redis/store.h"
#include "online/store.h"
#include "redis_testing.h"

namespace derived::online {
namespace {

struct StoreFactory {
  std::string name;
  std::function<Result<std::unique_ptr<OnlineStore>>(const std::string& dir)> open;
  std::function<Status()> empty;  // before each test, for a store the tests share (none: a fresh folder)
};

// The server is shared by the suite: each test starts from an empty database.
Status FlushRedis(int port) {
  timeval tv{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return Error("cannot reach the test's Redis server");
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, "FLUSHDB"));
  bool ok = r && r->type == REDIS_REPLY_STATUS;
  if (r) freeReplyObject(r);
  redisFree(c);
  return ok ? Status::Ok() : Status(Error("FLUSHDB failed"));
}

// One Redis server for the suite, started on first use and stopped at exit.
testing::RedisServer& Redis() {
  static testing::RedisServer server;
  return server;
}

std::vector<StoreFactory> Stores() {
  return {{"lmdb", [](const std::string& dir) { return OpenLmdbStore(dir + "/online"); }, nullptr},
          {"redis", [](const std::string&) -> Result<std::unique_ptr<OnlineStore>> {
             if (!Redis().ok()) return Error(Redis().why());
             RedisOptions o;
             o.port = Redis().port();
             return OpenRedisStore(o);
           },
           [] { return Redis().ok() ? FlushRedis(Redis().port()) : Status(Error(Redis().why())); }}};
}

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("derived-online-{}-{}", getpid(), counter_++);
    std::filesystem::create_directories(dir_);
    if (GetParam().empty) {
      auto st = GetParam().empty();
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
    auto s = GetParam().open(dir_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::optional<std::string> One(const std::string& key) {
    auto got = store_->Get({key});
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got.ok() ? (*got)[0] : std::nullopt;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<OnlineStore> store_;
};

TEST_P(StoreConformance, PutThenGetInOrderWithMissingKeysAsNothing) {
  ASSERT_TRUE(store_->Put({{"a", "1"}, {"b", "2"}}).ok());
  auto got = store_->Get({"b", "zz", "a"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::vector<std::optional<std::string>>{"2", std::nullopt, "1"}));
  // Replaced, and deleted (a missing key is no error).
  ASSERT_TRUE(store_->Put({{"a", "3"}}).ok());
  EXPECT_EQ(One("a"), "3");
  ASSERT_TRUE(store_->Delete({"a", "never"}).ok());
  EXPECT_EQ(One("a"), std::nullopt);
  EXPECT_EQ(One("b"), "2");
}

TEST_P(StoreConformance, KeysAndValuesAreBytesNulsIncluded) {
  const std::string key("k\0\xff\x01", 4), value("\0\0v\xfe", 4);
  ASSERT_TRUE(store_->Put({{key, value}}).ok());
  EXPECT_EQ(One(key), value);
  EXPECT_EQ(One(std::string("k\0\xff", 3)), std::nullopt);  // a prefix is another key
}

TEST_P(StoreConformance, DeletePrefixRemovesThoseKeysAndNoOther) {
  std::vector<OnlineStore::Entry> batch;
  for (int i = 0; i < 25'000; ++i) batch.push_back({fmt::format("t/x/g/1/{:06}", i), "v"});
  batch.push_back({"t/x/g/10/0", "keep"});   // another generation that shares digits
  batch.push_back({"t/x/g/0", "keep"});      // sorts before the prefix
  batch.push_back({"t/x/g/2/0", "keep"});    // sorts after it
  ASSERT_TRUE(store_->Put(batch).ok());
  auto n = store_->DeletePrefix("t/x/g/1/");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 25'000);
  EXPECT_EQ(One("t/x/g/1/000000"), std::nullopt);
  EXPECT_EQ(One("t/x/g/1/024999"), std::nullopt);
  EXPECT_EQ(One("t/x/g/10/0"), "keep");
  EXPECT_EQ(One("t/x/g/0"), "keep");
  EXPECT_EQ(One("t/x/g/2/0"), "keep");
  EXPECT_FALSE(store_->DeletePrefix("").ok());
}

// A reader never sees half a batch: every key of one Get holds the same round.
TEST_P(StoreConformance, ReadersSeeABatchWholeOrNotAtAll) {
  const int kKeys = 200;
  auto round = [&](int r) {
    std::vector<OnlineStore::Entry> batch;
    for (int i = 0; i < kKeys; ++i) batch.push_back({fmt::format("k{:03}", i), std::to_string(r)});
    return batch;
  };
  ASSERT_TRUE(store_->Put(round(0)).ok());
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(fmt::format("k{:03}", i));
  std::atomic<bool> done{false};
  std::atomic<int> mixed{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        auto got = store_->Get(keys);
        if (!got.ok()) {
          ++mixed;
          continue;
        }
        for (const auto& v : *got) {
          if (v != (*got)[0]) {
            ++mixed;
            break;
          }
        }
        ++reads;
      }
    });
  }
  for (int r = 1; r <= 200; ++r) ASSERT_TRUE(store_->Put(round(r)).ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(mixed, 0);
  EXPECT_GT(reads, 0);
  EXPECT_EQ(One("k000"), "200");
}

TEST_P(StoreConformance, WhatWasWrittenIsThereAfterReopening) {
  ASSERT_TRUE(store_->Put({{"durable", "yes"}}).ok());
  store_.reset();
  auto s = GetParam().open(dir_.string());
  ASSERT_TRUE(s.ok()) << s.error().message;
  store_ = std::move(*s);
  EXPECT_EQ(One("durable"), "yes");
}

// Redis expires entries itself: the TTL is on the key (and readers check the value's too).
TEST(RedisStore, AnEntrysTtlIsTheKeysAndOneWithoutNoneIsSet) {
  ASSERT_TRUE(Redis().ok()) << Redis().why();
  ASSERT_TRUE(FlushRedis(Redis().port()).ok());
  RedisOptions o;
  o.port = Redis().port();
  auto store = OpenRedisStore(o);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->Put({{"short", "v", 100}, {"long", "v", 0}}).ok());
  timeval tv{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", Redis().port(), tv);
  ASSERT_TRUE(c && !c->err);
  auto ttl = [&](const char* key) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "TTL %s", key));
    long long t = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
    if (r) freeReplyObject(r);
    return t;
  };
  EXPECT_GT(ttl("short"), 0);
  EXPECT_LE(ttl("short"), 100);
  EXPECT_EQ(ttl("long"), -1);  // no expiry
  redisFree(c);
  // A server that is gone is an error naming it, never a crash; the next call reconnects.
  RedisOptions nowhere;
  nowhere.port = 1;
  nowhere.timeout_seconds = 0.5;
  auto none = OpenRedisStore(nowhere);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message, ::testing::HasSubstr("cannot connect to Redis at 127.0.0.1:1"));
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformance, ::testing::ValuesIn(Stores()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace derived::online
