// Leases and commit notices on a real server (tests/postgres_testing.h). Expiry is on the
// server's clock, which a test cannot move: leases that must expire are taken for zero
// seconds, so they have expired by the next statement.
#include "warehouse/postgres/coordination.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "metadata/store.h"
#include "postgres_testing.h"
#include "warehouse/postgres/warehouse.h"

namespace derived {
namespace {

using testing::PostgresDatabase;

std::unique_ptr<Warehouse> Open(const PostgresDatabase& db) {
  auto options = PostgresConnectOptions(db.dsn());
  EXPECT_TRUE(options.ok());
  auto wh = OpenPostgresWarehouse(*options);
  EXPECT_TRUE(wh.ok()) << wh.error().message;
  EXPECT_TRUE((*wh)->CreateMetadataSchema().ok());
  return std::move(*wh);
}

TEST(PostgresLeases, OneOwnerPerTableUntilItExpiresOrIsReleased) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto a = Open(db), b = Open(db);
  Coordination& ca = *a->coordination();
  Coordination& cb = *b->coordination();
  auto got = ca.Acquire({"core.y", "core.x"}, "a", 30);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, (std::map<std::string, int64_t>{{"core.x", 1}, {"core.y", 1}}));
  // Held and live: nobody else takes it.
  auto other = cb.Acquire({"core.x", "core.z"}, "b", 30);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(*other, (std::map<std::string, int64_t>{{"core.z", 1}}));
  EXPECT_EQ(db.Psql("SELECT string_agg(table_name || '=' || owner, ',' ORDER BY table_name) FROM _derived.leases"),
            "core.x=a,core.y=a,core.z=b");
  auto renewed = ca.Renew("a", 30);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_EQ(*renewed, (std::map<std::string, int64_t>{{"core.x", 1}, {"core.y", 1}}));
  EXPECT_EQ(db.Psql("SELECT count(*) FROM _derived.leases WHERE owner = 'a' AND expires_at > clock_timestamp() + "
                    "INTERVAL '20 seconds'"),
            "2");
  // Released: taken at once, under a new generation.
  ASSERT_TRUE(ca.Release({"core.x"}, "a").ok());
  other = cb.Acquire({"core.x"}, "b", 30);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, (std::map<std::string, int64_t>{{"core.x", 2}}));
  renewed = ca.Renew("a", 30);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(*renewed, (std::map<std::string, int64_t>{{"core.y", 1}}));
  // Expired (taken for no time): the next taker has it.
  ASSERT_TRUE(ca.Renew("a", 0).ok());
  other = cb.Acquire({"core.y"}, "b", 30);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, (std::map<std::string, int64_t>{{"core.y", 2}}));
  auto leases = ca.Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 3u);
  for (const auto& l : *leases) {
    EXPECT_EQ(l.owner, "b");
    EXPECT_GT(l.seconds_left, 20);
  }
}

TEST(PostgresLeases, ARestartUnderTheSameNameOrAStealFencesTheOldHolder) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto a = Open(db), b = Open(db);
  auto first = a->coordination()->Acquire({"core.x"}, "pod-1", 30);
  ASSERT_TRUE(first.ok());
  LeaseToken old{"pod-1", first->at("core.x")};
  // The same name again (a restarted process): taken at once, and the old token is dead.
  auto again = b->coordination()->Acquire({"core.x"}, "pod-1", 30);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->at("core.x"), old.generation + 1);
  auto holds = a->coordination()->Holds("core.x", old);
  ASSERT_TRUE(holds.ok());
  EXPECT_FALSE(*holds);
  holds = a->coordination()->Holds("core.x", {"pod-1", again->at("core.x")});
  ASSERT_TRUE(holds.ok());
  EXPECT_TRUE(*holds);
  // A command steals it from the live holder.
  auto stolen = a->coordination()->Acquire({"core.x"}, "command", 30, /*steal=*/true);
  ASSERT_TRUE(stolen.ok());
  EXPECT_EQ(stolen->at("core.x"), old.generation + 2);
  auto renewed = b->coordination()->Renew("pod-1", 30);
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(renewed->empty());
}

TEST(PostgresLeases, ManyTakersAtOnceEachTableGetsExactlyOne) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  std::vector<std::string> tables;
  for (int i = 0; i < 60; ++i) tables.push_back("core.t" + std::to_string(i));
  constexpr int kTakers = 8;
  std::vector<std::map<std::string, int64_t>> taken(kTakers);
  std::vector<std::string> errors(kTakers);
  {
    std::vector<std::unique_ptr<Warehouse>> sessions;
    for (int i = 0; i < kTakers; ++i) sessions.push_back(Open(db));
    std::vector<std::thread> threads;
    for (int i = 0; i < kTakers; ++i) {
      threads.emplace_back([&, i] {
        std::vector<std::string> order = tables;
        if (i % 2) std::reverse(order.begin(), order.end());  // opposite orders: no deadlock
        auto got = sessions[i]->coordination()->Acquire(order, "p" + std::to_string(i), 30);
        if (got.ok()) taken[i] = *got;
        else errors[i] = got.error().message;
      });
    }
    for (auto& t : threads) t.join();
  }
  std::map<std::string, int> owners;
  for (int i = 0; i < kTakers; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    for (const auto& [t, g] : taken[i]) owners[t]++;
  }
  EXPECT_EQ(owners.size(), tables.size());
  for (const auto& [t, n] : owners) EXPECT_EQ(n, 1) << t;
  EXPECT_EQ(db.Psql("SELECT count(*), count(DISTINCT table_name), max(generation) FROM _derived.leases"), "60|60|1");
}

TEST(PostgresCommitNotices, ArriveAtCommitNeverOnRollbackAndAListenerSurvivesALostConnection) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto writer = Open(db), reader = Open(db);
  auto listener = reader->coordination()->Listen();
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  bool resumed = true;
  ASSERT_TRUE(writer->Begin().ok());
  ASSERT_TRUE(writer->coordination()->NotifyCommit("core.x", 7, 1700000000.5).ok());
  auto none = (*listener)->Wait(0, &resumed);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "delivered before the commit";
  EXPECT_FALSE(resumed);
  ASSERT_TRUE(writer->Commit().ok());
  auto got = (*listener)->Wait(5000, &resumed);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).table, "core.x");
  EXPECT_EQ(got->at(0).data_version, 7);
  EXPECT_DOUBLE_EQ(got->at(0).committed_at, 1700000000.5);
  ASSERT_TRUE(writer->Begin().ok());
  ASSERT_TRUE(writer->coordination()->NotifyCommit("core.y", 1, 0).ok());
  ASSERT_TRUE(writer->Rollback().ok());
  got = (*listener)->Wait(200, &resumed);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  // The listener's connection is cut: the next wait fails or reconnects saying so.
  EXPECT_EQ(db.Psql("SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"),
            "t");
  bool reconnected = false;
  for (int i = 0; i < 3 && !reconnected; ++i) {
    auto r = (*listener)->Wait(200, &resumed);
    if (r.ok() && resumed) reconnected = true;
  }
  ASSERT_TRUE(reconnected);
  ASSERT_TRUE(writer->Begin().ok());
  ASSERT_TRUE(writer->coordination()->NotifyCommit("core.z", 2, 0).ok());
  ASSERT_TRUE(writer->Commit().ok());
  got = (*listener)->Wait(5000, &resumed);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).table, "core.z");
}

// The fence: a state is saved only by the process holding the table's lease at the
// generation it took; a commit announces itself to listeners.
TEST(PostgresLeases, AMutationCommitsOnlyUnderTheLeaseItHolds) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto wh = Open(db), other = Open(db);
  auto book = std::make_shared<fleet::LeaseBook>("me");
  MetadataStore store(wh.get(), {});
  store.SetFence(book);
  auto listener = other->coordination()->Listen();
  ASSERT_TRUE(listener.ok());
  TableState base, next;
  next.table = "core.x";
  next.data_version = 1;
  auto save = [&] { return InTransaction(*wh, [&] { return store.SaveState(next, base); }); };
  auto st = save();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(MetadataStore::IsFenced(st.error())) << st.error().message;
  EXPECT_EQ(db.Psql("SELECT count(*) FROM _derived.state"), "0");
  auto got = wh->coordination()->Acquire({"core.x"}, "me", 30);
  ASSERT_TRUE(got.ok());
  book->Add(*got);
  st = save();
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(db.Psql("SELECT data_version FROM _derived.state"), "1");
  bool resumed = false;
  auto notices = (*listener)->Wait(5000, &resumed);
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ(notices->at(0).table, "core.x");
  EXPECT_EQ(notices->at(0).data_version, 1);
  // Taken over while this process still thinks it holds it: nothing more is written.
  ASSERT_TRUE(other->coordination()->Acquire({"core.x"}, "them", 30, /*steal=*/true).ok());
  base = next;
  base.stored = true;
  next.data_version = 2;
  st = save();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(MetadataStore::IsFenced(st.error())) << st.error().message;
  EXPECT_NE(st.error().message.find("another process took the lease of core.x from me"), std::string::npos);
  EXPECT_EQ(db.Psql("SELECT data_version FROM _derived.state"), "1");
}

TEST(PostgresLeases, TextArraysQuoteEveryElement) {
  EXPECT_EQ(TextArray({}), "{}");
  EXPECT_EQ(TextArray({"a.b", "we\"ird\\", "x,y"}), "{\"a.b\",\"we\\\"ird\\\\\",\"x,y\"}");
}

}  // namespace
}  // namespace derived
