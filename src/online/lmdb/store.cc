#include "online/lmdb/store.h"

#include <lmdb.h>

#include <fmt/format.h>

#include "util/files.h"

namespace derived::online {
namespace {

// Deletes per write transaction in DeletePrefix: a generation of millions of keys goes
// in steps, never in one transaction holding them all.
constexpr int64_t kDeleteStep = 10'000;

Error LmdbError(std::string_view what, int rc) { return Error(fmt::format("LMDB: {}: {}", what, mdb_strerror(rc))); }

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

// A transaction, aborted unless committed.
class Txn {
 public:
  Txn() = default;
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  int Begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  int Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

class LmdbStore final : public OnlineStore {
 public:
  ~LmdbStore() override {
    if (env_) mdb_env_close(env_);
  }

  static Result<std::unique_ptr<OnlineStore>> Open(const std::string& dir, const LmdbOptions& options) {
    if (auto st = CreatePrivateDirectories(dir); !st.ok()) return st.error();
    std::unique_ptr<LmdbStore> s(new LmdbStore());
    if (int rc = mdb_env_create(&s->env_); rc) return LmdbError("create", rc);
    if (int rc = mdb_env_set_mapsize(s->env_, options.map_bytes); rc) return LmdbError("set the map size", rc);
    // MDB_NOTLS: read transactions are not tied to threads (the server's pool shares them).
    if (int rc = mdb_env_open(s->env_, dir.c_str(), MDB_NOTLS, 0600); rc) return LmdbError("open " + dir, rc);
    Txn txn;
    if (int rc = txn.Begin(s->env_, 0); rc) return LmdbError("begin", rc);
    if (int rc = mdb_dbi_open(txn.get(), nullptr, 0, &s->dbi_); rc) return LmdbError("open the database", rc);
    if (int rc = txn.Commit(); rc) return LmdbError("commit", rc);
    return std::unique_ptr<OnlineStore>(std::move(s));
  }

  Status Put(const std::vector<Entry>& batch) override {
    Txn txn;
    if (int rc = txn.Begin(env_, 0); rc) return LmdbError("begin", rc);
    for (const auto& e : batch) {
      if (e.key.empty()) return Error("an online key cannot be empty");
      MDB_val k = Val(e.key), v = Val(e.value);
      if (int rc = mdb_put(txn.get(), dbi_, &k, &v, 0); rc) return LmdbError("put", rc);
    }
    if (int rc = txn.Commit(); rc) return LmdbError("commit", rc);
    return Status::Ok();
  }

  Status Delete(const std::vector<std::string>& keys) override {
    Txn txn;
    if (int rc = txn.Begin(env_, 0); rc) return LmdbError("begin", rc);
    for (const auto& key : keys) {
      if (key.empty()) continue;
      MDB_val k = Val(key);
      int rc = mdb_del(txn.get(), dbi_, &k, nullptr);
      if (rc && rc != MDB_NOTFOUND) return LmdbError("delete", rc);
    }
    if (int rc = txn.Commit(); rc) return LmdbError("commit", rc);
    return Status::Ok();
  }

  Result<std::vector<std::optional<std::string>>> Get(const std::vector<std::string>& keys) override {
    Txn txn;
    if (int rc = txn.Begin(env_, MDB_RDONLY); rc) return LmdbError("begin", rc);
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const auto& key : keys) {
      if (key.empty()) {
        out.emplace_back();
        continue;
      }
      MDB_val k = Val(key), v;
      int rc = mdb_get(txn.get(), dbi_, &k, &v);
      if (rc == MDB_NOTFOUND) {
        out.emplace_back();
      } else if (rc) {
        return LmdbError("get", rc);
      } else {
        out.emplace_back(std::string(static_cast<const char*>(v.mv_data), v.mv_size));
      }
    }
    return out;
  }

  Result<int64_t> DeletePrefix(std::string_view prefix) override {
    if (prefix.empty()) return Error("refusing to delete every key: the prefix is empty");
    int64_t total = 0;
    for (;;) {
      Txn txn;
      if (int rc = txn.Begin(env_, 0); rc) return LmdbError("begin", rc);
      MDB_cursor* raw = nullptr;
      if (int rc = mdb_cursor_open(txn.get(), dbi_, &raw); rc) return LmdbError("cursor", rc);
      std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor(raw, mdb_cursor_close);
      MDB_val k = Val(prefix), v;
      int64_t step = 0;
      int rc = mdb_cursor_get(raw, &k, &v, MDB_SET_RANGE);
      while (rc == 0 && step < kDeleteStep) {
        std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (int d = mdb_cursor_del(raw, 0); d) return LmdbError("delete", d);
        ++step;
        // Seek the prefix again: the keys before it are gone, and `k` may point at freed pages.
        k = Val(prefix);
        rc = mdb_cursor_get(raw, &k, &v, MDB_SET_RANGE);
      }
      if (rc && rc != MDB_NOTFOUND) return LmdbError("scan", rc);
      cursor.reset();
      if (int c = txn.Commit(); c) return LmdbError("commit", c);
      total += step;
      if (step < kDeleteStep) return total;
    }
  }

 private:
  LmdbStore() = default;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace

Result<std::unique_ptr<OnlineStore>> OpenLmdbStore(const std::string& dir, const LmdbOptions& options) {
  return LmdbStore::Open(dir, options);
}

}  // namespace derived::online
