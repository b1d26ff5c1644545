#include "warehouse/postgres/attached.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {
namespace {

using Kind = Attached::Item::Kind;

// The grantee of an aclexplode row `g`, as GRANT spells it.
constexpr const char* kGrantee =
    "CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END";
constexpr const char* kGrantOption = "CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END";

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kGrant: return "grant";
    case Kind::kColumnGrant: return "column grant";
    case Kind::kTrigger: return "trigger";
    case Kind::kRule: return "rule";
    case Kind::kIndex: return "index";
    case Kind::kPolicy: return "policy";
  }
  return "";
}

}  // namespace

std::vector<std::string> Attached::Names(Item::Kind kind) const {
  std::vector<std::string> out;
  for (const Item& i : items) {
    if (i.kind == kind) out.push_back(i.name);
  }
  return out;
}

Result<Attached> ReadAttached(Warehouse& wh, const std::string& relation) {
  const std::string r = wh.dialect().Literal(relation);
  Attached a;
  auto head = wh.Query(fmt::format(
      "SELECT c.relrowsecurity, quote_ident(pg_catalog.pg_get_userbyid(c.relowner)), "
      "pg_catalog.pg_get_userbyid(c.relowner) = current_user FROM pg_catalog.pg_class c WHERE c.oid = to_regclass({})",
      r));
  if (!head.ok()) return head.error();
  if (head->size() == 0) return a;
  a.exists = true;
  a.row_security = head->at(0, 0).value_or("f") == "t";
  if (head->at(0, 2).value_or("t") != "t") a.owner = head->at(0, 1).value_or("");
  // One row per item: its kind (the enum's order), name and statement.
  auto items = wh.Query(fmt::format(
      "SELECT 0, '', format('GRANT %s ON %s TO %s%s', g.privilege_type, {0}, {1}, {2}) "
      " FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) g "
      " WHERE c.oid = to_regclass({0}) AND g.grantee <> c.relowner "
      "UNION ALL SELECT 1, a.attname, format('GRANT %s (%I) ON %s TO %s%s', g.privilege_type, a.attname, {0}, {1}, {2}) "
      " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
      " AND NOT a.attisdropped, pg_catalog.aclexplode(a.attacl) g "
      " WHERE c.oid = to_regclass({0}) AND g.grantee <> c.relowner "
      "UNION ALL SELECT 2, t.tgname, pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger t "
      " WHERE t.tgrelid = to_regclass({0}) AND NOT t.tgisinternal "
      "UNION ALL SELECT 3, w.rulename, pg_catalog.pg_get_ruledef(w.oid) FROM pg_catalog.pg_rewrite w "
      " WHERE w.ev_class = to_regclass({0}) AND w.rulename <> '_RETURN' "
      "UNION ALL SELECT 4, i.relname, pg_catalog.pg_get_indexdef(x.indexrelid) FROM pg_catalog.pg_index x "
      " JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass({0}) "
      "UNION ALL SELECT 5, p.polname, '' FROM pg_catalog.pg_policy p WHERE p.polrelid = to_regclass({0}) "
      "ORDER BY 1, 2, 3",
      r, kGrantee, kGrantOption));
  if (!items.ok()) return items.error();
  for (const auto& row : items->rows) {
    a.items.push_back({static_cast<Kind>(std::stoi(row[0].value_or("0"))), row[1].value_or(""), row[2].value_or("")});
  }
  return a;
}

Status GiveBack(Warehouse& wh, const std::string& relation, std::string_view kind, const Attached& a,
                const std::set<std::string>* columns) {
  if (!a.exists) return Status::Ok();
  for (const Attached::Item& i : a.items) {
    if (i.kind == Kind::kPolicy) continue;
    if (i.kind == Kind::kColumnGrant && columns && !columns->count(i.name)) continue;
    if (auto st = wh.Execute(i.sql); !st.ok()) {
      return Error(fmt::format("cannot give {} the {}{} its old version had ({}): {}", relation, KindName(i.kind),
                               i.name.empty() ? "" : " " + i.name, i.sql, Split(st.error().message, '\n')[0]));
    }
  }
  if (!a.owner.empty()) {
    if (auto st = wh.Execute(fmt::format("ALTER {} {} OWNER TO {}", kind, relation, a.owner)); !st.ok()) {
      return Error(fmt::format("cannot give {} back to its owner {}: {}", relation, a.owner,
                               Split(st.error().message, '\n')[0]));
    }
  }
  return Status::Ok();
}

}  // namespace derived
