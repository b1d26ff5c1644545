// A cache of parse and bind results keyed by content hash, so an unchanged table is
// not re-parsed or re-bound. Stored as one JSON file in the project's state directory.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sql/column.h"
#include "sql/references.h"
#include "util/status.h"

namespace derived {

// The outcome of binding one table's query.
struct BindResult {
  bool ok = true;
  std::vector<OutputColumn> columns;  // when ok
  std::string error;                  // when !ok: the engine's message
  // When !ok and the engine says where: the byte offset of the error in the query bound
  // (the initial-build SQL when error_in_initial_sql). -1 = not known.
  int64_t error_offset = -1;
  bool error_in_initial_sql = false;
  // When !ok: the engine could not answer (a lost connection, a lock timeout), so there is
  // no verdict on the query. Never cached; the whole type-check is then tried again.
  bool transient = false;
};

// Thread-safe. Entries not used since Load() are dropped on Save(), so the file holds
// exactly what the current project needs.
class CompileCache {
 public:
  // A missing or unreadable file gives an empty cache (the cache is only an accelerator).
  static std::unique_ptr<CompileCache> Load(const std::string& path);

  std::optional<std::vector<sql::TableRef>> FindParse(const std::string& key);
  void PutParse(const std::string& key, std::vector<sql::TableRef> refs);
  std::optional<BindResult> FindBind(const std::string& key);
  void PutBind(const std::string& key, BindResult result);

  // Writes a temporary file and renames it into place.
  Status Save() const;

  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }

 private:
  struct ParseEntry {
    std::vector<sql::TableRef> refs;
    bool used = false;
  };
  struct BindEntry {
    BindResult result;
    bool used = false;
  };
  std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, ParseEntry> parse_;
  std::map<std::string, BindEntry> bind_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace derived
