#include "online/table_store.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace derived::online {
namespace {

std::string EncodePointer(const Pointer& p) {
  return fmt::format("pointer-v1 {} {} {}", p.generation, p.schema, p.data_version);
}

Result<Pointer> DecodePointer(const std::string& text) {
  Pointer p;
  unsigned long long schema = 0;
  long long generation = 0, version = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "pointer-v1 %lld %llu %lld%c", &generation, &schema, &version, &tail) != 3 ||
      generation < 1) {
    return Error("the table's online pointer is not one Derived wrote");
  }
  p.generation = generation;
  p.schema = schema;
  p.data_version = version;
  return p;
}

}  // namespace

Result<std::string> TableStore::RowKey(int64_t g, const std::vector<TypedValue>& key) const {
  auto encoded = EncodeKey(key);
  if (!encoded.ok()) return encoded.error();
  return GenerationPrefix(g) + *encoded;
}

Result<std::optional<Pointer>> TableStore::Current() {
  auto got = store_->Get({PointerKey()});
  if (!got.ok()) return got.error();
  if (!(*got)[0]) return std::optional<Pointer>();
  auto p = DecodePointer(*(*got)[0]);
  if (!p.ok()) return p.error();
  return std::optional<Pointer>(*p);
}

Result<int64_t> TableStore::BeginSnapshot() {
  auto current = Current();
  if (!current.ok()) return current.error();
  int64_t next = (*current ? (*current)->generation : 0) + 1;
  // What an unfinished attempt at this generation left goes first.
  if (auto n = store_->DeletePrefix(GenerationPrefix(next)); !n.ok()) return n.error();
  return next;
}

Status TableStore::AddToSnapshot(int64_t generation, const std::vector<Row>& rows) {
  std::vector<OnlineStore::Entry> batch;
  batch.reserve(rows.size());
  for (const auto& r : rows) {
    auto key = RowKey(generation, r.key);
    if (!key.ok()) return key.error();
    auto value = EncodeValue(r.value);
    if (!value.ok()) return value.error();
    batch.push_back({std::move(*key), std::move(*value), 0});
  }
  return store_->Put(batch);
}

Status TableStore::FinishSnapshot(int64_t generation, uint64_t schema, int64_t data_version) {
  auto current = Current();
  if (!current.ok()) return current.error();
  if (*current && (*current)->generation >= generation) {
    return Error(fmt::format("generation {} of {} is not newer than the current one ({})", generation, table_,
                             (*current)->generation));
  }
  if (auto st = store_->Put({{PointerKey(), EncodePointer({generation, schema, data_version}), 0}}); !st.ok()) return st;
  if (!*current) return Status::Ok();
  auto n = store_->DeletePrefix(GenerationPrefix((*current)->generation));
  return n.ok() ? Status::Ok() : Status(n.error());
}

Status TableStore::Upsert(const std::vector<Row>& rows) {
  auto current = Current();
  if (!current.ok()) return current.error();
  if (!*current) return Error(fmt::format("{} has no online snapshot yet: export it whole first", table_));
  const Pointer p = **current;
  std::vector<std::string> keys;
  for (const auto& r : rows) {
    auto key = RowKey(p.generation, r.key);
    if (!key.ok()) return key.error();
    keys.push_back(std::move(*key));
  }
  auto there = store_->Get(keys);
  if (!there.ok()) return there.error();
  std::vector<OnlineStore::Entry> batch;
  int64_t newest = p.data_version;
  for (size_t i = 0; i < rows.size(); ++i) {
    // An older mutation never overwrites a newer one.
    if ((*there)[i]) {
      auto old = DecodeValue(*(*there)[i]);
      if (old.ok() && old->data_version > rows[i].value.data_version) continue;
    }
    auto value = EncodeValue(rows[i].value);
    if (!value.ok()) return value.error();
    batch.push_back({keys[i], std::move(*value), 0});
    newest = std::max(newest, rows[i].value.data_version);
  }
  batch.push_back({PointerKey(), EncodePointer({p.generation, p.schema, newest}), 0});
  return store_->Put(batch);
}

Status TableStore::Remove(const std::vector<std::vector<TypedValue>>& keys) {
  auto current = Current();
  if (!current.ok()) return current.error();
  if (!*current) return Status::Ok();
  std::vector<std::string> encoded;
  for (const auto& k : keys) {
    auto key = RowKey((*current)->generation, k);
    if (!key.ok()) return key.error();
    encoded.push_back(std::move(*key));
  }
  return store_->Delete(encoded);
}

Result<std::vector<std::optional<Value>>> TableStore::Lookup(const std::vector<std::vector<TypedValue>>& keys) {
  // A snapshot may switch in between reading the pointer and the keys, and delete the
  // generation read: then a key seems missing, so the pointer is read again, and the keys
  // from the new generation (a bounded number of times).
  for (int attempt = 0;; ++attempt) {
    std::vector<std::optional<Value>> out(keys.size());
    auto current = Current();
    if (!current.ok()) return current.error();
    if (!*current) return out;
    std::vector<std::string> encoded;
    for (const auto& k : keys) {
      auto key = RowKey((*current)->generation, k);
      if (!key.ok()) return key.error();
      encoded.push_back(std::move(*key));
    }
    auto got = store_->Get(encoded);
    if (!got.ok()) return got.error();
    bool missing = false;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!(*got)[i]) {
        missing = true;
        continue;
      }
      auto v = DecodeValue(*(*got)[i]);
      if (!v.ok()) return Error(fmt::format("{}: {}", table_, v.error().message));
      out[i] = std::move(*v);
    }
    if (!missing || attempt == 3) return out;
    auto again = Current();
    if (!again.ok()) return again.error();
    if (*again && (*again)->generation == (*current)->generation) return out;
  }
}

Status TableStore::Drop() {
  if (auto st = store_->Delete({PointerKey()}); !st.ok()) return st;
  auto n = store_->DeletePrefix("t/" + table_ + "/");
  return n.ok() ? Status::Ok() : Status(n.error());
}

}  // namespace derived::online
