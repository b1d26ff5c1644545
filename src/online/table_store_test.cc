// One table in an online store: snapshots switched in whole, increments that never go
// back in data version, and readers that never see two generations at once. On the
// embedded store (the conformance suite holds every store to the same behaviour).
#include "online/table_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "online/lmdb/store.h"

namespace derived::online {
namespace {

TypedValue Int(int64_t i) {
  TypedValue v;
  v.kind = TypedValue::Kind::kInt;
  v.integer = i;
  return v;
}

Row RowOf(int64_t key, int64_t score, int64_t data_version) { return {{Int(key)}, {7, data_version, 0, {Int(score)}}}; }

class TableStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("derived-table-store-{}-{}", getpid(), counter_++);
    auto s = OpenLmdbStore(dir_.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Exports `rows` as a whole new generation.
  void Snapshot(TableStore& t, const std::vector<Row>& rows, int64_t data_version) {
    auto g = t.BeginSnapshot();
    ASSERT_TRUE(g.ok()) << g.error().message;
    ASSERT_TRUE(t.AddToSnapshot(*g, rows).ok());
    ASSERT_TRUE(t.FinishSnapshot(*g, 7, data_version).ok());
  }
  std::optional<int64_t> Score(TableStore& t, int64_t key) {
    auto got = t.Lookup({{Int(key)}});
    EXPECT_TRUE(got.ok()) << got.error().message;
    if (!got.ok() || !(*got)[0]) return std::nullopt;
    return (*got)[0]->columns[0].integer;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<OnlineStore> store_;
};

TEST_F(TableStoreTest, ASnapshotReplacesTheTableWholeAndKeysGoneFromItGoOnline) {
  TableStore t(store_.get(), "ml.user_features");
  EXPECT_EQ(Score(t, 1), std::nullopt);  // nothing exported yet: missing, not an error
  Snapshot(t, {RowOf(1, 10, 1), RowOf(2, 20, 1)}, 1);
  EXPECT_EQ(Score(t, 1), 10);
  Snapshot(t, {RowOf(2, 21, 2)}, 2);
  EXPECT_EQ(Score(t, 1), std::nullopt);
  EXPECT_EQ(Score(t, 2), 21);
  auto p = t.Current();
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_EQ((*p)->generation, 2);
  EXPECT_EQ((*p)->data_version, 2);
  // The old generation is deleted, not just hidden.
  auto old = store_->Get({"t/ml.user_features/g/1/" + *EncodeKey({Int(2)})});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ((*old)[0], std::nullopt);
}

TEST_F(TableStoreTest, AnUnfinishedSnapshotIsInvisibleAndTheNextOneClearsIt) {
  TableStore t(store_.get(), "a.t");
  Snapshot(t, {RowOf(1, 10, 1)}, 1);
  auto g = t.BeginSnapshot();
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(t.AddToSnapshot(*g, {RowOf(1, 99, 2), RowOf(5, 50, 2)}).ok());  // then the exporter dies
  EXPECT_EQ(Score(t, 1), 10);
  EXPECT_EQ(Score(t, 5), std::nullopt);
  Snapshot(t, {RowOf(1, 11, 3)}, 3);  // the same generation number, started clean
  EXPECT_EQ(Score(t, 1), 11);
  EXPECT_EQ(Score(t, 5), std::nullopt);
}

TEST_F(TableStoreTest, AnOlderMutationNeverOverwritesANewerOne) {
  TableStore t(store_.get(), "a.t");
  EXPECT_FALSE(t.Upsert({RowOf(1, 1, 1)}).ok());  // before any snapshot
  Snapshot(t, {RowOf(1, 10, 5)}, 5);
  ASSERT_TRUE(t.Upsert({RowOf(1, 9, 4), RowOf(2, 20, 6)}).ok());
  EXPECT_EQ(Score(t, 1), 10);
  EXPECT_EQ(Score(t, 2), 20);
  ASSERT_TRUE(t.Upsert({RowOf(1, 12, 6)}).ok());  // the same version again: written, the same bytes
  EXPECT_EQ(Score(t, 1), 12);
  EXPECT_EQ((*t.Current())->data_version, 6);
  ASSERT_TRUE(t.Remove({{Int(2)}}).ok());
  EXPECT_EQ(Score(t, 2), std::nullopt);
  ASSERT_TRUE(t.Drop().ok());
  EXPECT_EQ(*t.Current(), std::nullopt);
  EXPECT_EQ(Score(t, 1), std::nullopt);
}

TEST_F(TableStoreTest, ReadersDuringSnapshotsNeverSeeTwoGenerations) {
  TableStore writer(store_.get(), "a.t");
  const int kKeys = 300;
  auto rows = [&](int64_t version) {
    std::vector<Row> out;
    for (int k = 0; k < kKeys; ++k) out.push_back(RowOf(k, version, version));
    return out;
  };
  Snapshot(writer, rows(1), 1);
  std::vector<std::vector<TypedValue>> keys;
  for (int k = 0; k < kKeys; ++k) keys.push_back({Int(k)});
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      TableStore reader(store_.get(), "a.t");
      while (!done) {
        auto got = reader.Lookup(keys);
        if (!got.ok()) {
          ++bad;
          continue;
        }
        for (const auto& v : *got) {
          if (!v || v->data_version != (*got)[0]->data_version) {
            ++bad;
            break;
          }
        }
        ++reads;
      }
    });
  }
  for (int64_t version = 2; version <= 40; ++version) {
    // In chunks, as an exporter streams a table.
    auto g = writer.BeginSnapshot();
    ASSERT_TRUE(g.ok());
    auto all = rows(version);
    for (size_t at = 0; at < all.size(); at += 64) {
      std::vector<Row> chunk(all.begin() + static_cast<long>(at),
                             all.begin() + static_cast<long>(std::min(all.size(), at + 64)));
      ASSERT_TRUE(writer.AddToSnapshot(*g, chunk).ok());
    }
    ASSERT_TRUE(writer.FinishSnapshot(*g, 7, version).ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(reads, 0);
}

}  // namespace
}  // namespace derived::online
