// One exported table in an online store: its rows under the current generation, and a
// pointer to that generation. A full snapshot (first export, rebuild, replace, schema
// change) goes to a new generation, switched in by one put of the pointer, and only then
// is the old generation deleted: a reader that finds the pointer reads one generation
// whole, never a mix, and keys gone from the table are gone online. Incremental writes
// (merge batches, append windows) go into the current generation and never overwrite a
// value of a newer data version.
//
// Layout: "t/<table>/current" -> the pointer; "t/<table>/g/<generation>/" + encoded key
// -> encoded value (online/encoding.h). Not thread-safe for writers: one exporter per
// table; any number of readers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "online/encoding.h"
#include "online/store.h"

namespace derived::online {

struct Row {
  std::vector<TypedValue> key;  // the key columns, in key order
  Value value;
};

struct Pointer {
  int64_t generation = 0;
  uint64_t schema = 0;
  int64_t data_version = 0;  // the newest data version the generation holds whole
};

class TableStore {
 public:
  // REQUIRES: `store` outlives this; `table` is "dataset.table".
  TableStore(OnlineStore* store, std::string table) : store_(store), table_(std::move(table)) {}

  // The pointer, or nullopt before the first snapshot.
  Result<std::optional<Pointer>> Current();

  // A snapshot in steps: Begin a generation, Add rows in chunks, then Finish switches it in
  // and deletes the one before. A snapshot never finished is invisible and is deleted by
  // the next Begin.
  Result<int64_t> BeginSnapshot();
  Status AddToSnapshot(int64_t generation, const std::vector<Row>& rows);
  Status FinishSnapshot(int64_t generation, uint64_t schema, int64_t data_version);

  // Into the current generation: each row unless the value there has a newer data
  // version. An error before the first snapshot.
  Status Upsert(const std::vector<Row>& rows);
  // Removes these keys from the current generation.
  Status Remove(const std::vector<std::vector<TypedValue>>& keys);

  // Each key's value in the current generation (nullopt: missing), all from one pointer.
  Result<std::vector<std::optional<Value>>> Lookup(const std::vector<std::vector<TypedValue>>& keys);

  // Deletes everything of the table (a removed export).
  Status Drop();

 private:
  std::string PointerKey() const { return "t/" + table_ + "/current"; }
  std::string GenerationPrefix(int64_t g) const { return "t/" + table_ + "/g/" + std::to_string(g) + "/"; }
  Result<std::string> RowKey(int64_t g, const std::vector<TypedValue>& key) const;

  OnlineStore* store_;
  std::string table_;
};

}  // namespace derived::online
