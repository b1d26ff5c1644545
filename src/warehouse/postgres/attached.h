// What users attach to a relation on PostgreSQL that DROP takes with it, so that Derived
// can give it back when it drops a relation and makes another under the same name (a
// table swapped in, a view made again), in the same transaction: grants on the relation
// and on its columns, its owner, and on views their triggers and rules and on
// materialized views their indexes. Read from the catalog (pg_class.relacl,
// pg_attribute.attacl through aclexplode; the server's own text of each definition).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"
#include "warehouse/warehouse.h"

namespace derived {

struct Attached {
  struct Item {
    enum class Kind { kGrant, kColumnGrant, kTrigger, kRule, kIndex, kPolicy };
    Kind kind;
    std::string name;  // the column (kColumnGrant), trigger, rule, index or policy
    std::string sql;   // the statement that makes it again ("" for a policy: never made again)
  };
  bool exists = false;        // the relation was there
  bool row_security = false;  // ALTER TABLE ... ENABLE ROW LEVEL SECURITY
  std::string owner;          // quoted role; empty when the current user owns it
  std::vector<Item> items;

  std::vector<std::string> Names(Item::Kind kind) const;
};

// What is attached to `relation` (quoted schema.name). Grants to the owner itself are
// left out (an owner has every privilege on what it owns).
// REQUIRES: the search path is empty (InEmptySearchPath), so every name in a definition
// comes qualified and means the same object once it is run again.
Result<Attached> ReadAttached(Warehouse& wh, const std::string& relation);

// Gives `a` back to `relation`, made again (`kind`: TABLE, VIEW or MATERIALIZED VIEW):
// grants first, column grants only for the columns in `columns` when it is given (a
// column the new version lacks has nothing to grant), then triggers, rules and
// indexes, then the owner (so everything made here changes hands with the relation).
// Policies are never made again: a caller refuses a relation that has them. An error
// names what could not be given back; the caller's transaction must then roll back.
Status GiveBack(Warehouse& wh, const std::string& relation, std::string_view kind, const Attached& a,
                const std::set<std::string>* columns = nullptr);

// Runs `fn` with an empty search path for the transaction, then puts the session's back.
template <typename Fn>
Status InEmptySearchPath(Warehouse& wh, Fn&& fn) {
  auto path = wh.Query("SELECT current_setting('search_path')");
  if (!path.ok()) return path.error();
  if (auto st = wh.Execute("SET LOCAL search_path = ''"); !st.ok()) return st;
  Status st = fn();
  auto restored =
      wh.Query("SELECT set_config('search_path', " + wh.dialect().Literal(path->at(0, 0).value_or("")) + ", true)");
  if (!st.ok()) return st;
  if (!restored.ok()) return restored.error();
  return Status::Ok();
}

}  // namespace derived
