#include "warehouse/postgres/schemas.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {
namespace {

// The roles whose objects the current user trusts, as a CTE `trusted(oid)`: itself, the
// roles it is a member of (directly or through others: it can act as them), and
// superusers (who can do anything to its data anyway). Not pg_has_role, which holds
// every role for a superuser: a superuser must not trust a schema an ordinary role made.
constexpr const char* kTrustedRoles =
    "WITH RECURSIVE mine(oid) AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user "
    " UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN mine ON m.member = mine.oid), "
    "trusted(oid) AS (SELECT oid FROM mine UNION SELECT oid FROM pg_catalog.pg_roles WHERE rolsuper) ";

// The guard function's body. One that is there already must be this, owned by a
// trusted role, and not SECURITY DEFINER (a planted function could do anything when a
// guard calls it).
constexpr char kRaiseErrorBody[] = " BEGIN RAISE EXCEPTION '%', message; END ";

}  // namespace

Status CreateSchemaIfMissing(pg::Connection& conn, const std::string& schema, std::string_view what) {
  // CREATE SCHEMA IF NOT EXISTS asks for CREATE on the database even when the schema is
  // there: the catalog is asked first, so a schema made for the role by someone else
  // needs no such privilege.
  auto there = conn.Query(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1), "
      "has_database_privilege(current_database(), 'CREATE'), current_database(), current_user",
      {schema});
  if (!there.ok()) return there.error();
  if (there->at(0, 0).value_or("f") == "t") return Status::Ok();
  const std::string quoted = QuoteIdentifier(schema);
  if (there->at(0, 1).value_or("f") != "t") {
    const std::string database = there->at(0, 2).value_or(""), role = there->at(0, 3).value_or("");
    return Error(fmt::format(
        "cannot create the schema {} for {}: the role {} lacks the CREATE privilege on the database {} (have the "
        "database's owner or a superuser run GRANT CREATE ON DATABASE {} TO {}, or CREATE SCHEMA {} AUTHORIZATION {})",
        quoted, what, QuoteIdentifier(role), QuoteIdentifier(database), QuoteIdentifier(database),
        QuoteIdentifier(role), quoted, QuoteIdentifier(role)));
  }
  const bool in_tx = conn.InTransaction();
  if (in_tx) {
    if (auto st = conn.Execute("SAVEPOINT derived_schema"); !st.ok()) return st;
  }
  auto st = conn.Execute("CREATE SCHEMA IF NOT EXISTS " + quoted);
  // Two processes creating it at once: one of them loses the race.
  const bool lost_race = !st.ok() && st.error().message.find("duplicate key") != std::string::npos;
  if (in_tx) {
    auto end = conn.Execute(st.ok() ? "RELEASE SAVEPOINT derived_schema" : "ROLLBACK TO SAVEPOINT derived_schema");
    if (!end.ok()) return end;
  }
  if (st.ok() || lost_race) return Status::Ok();
  return Error(fmt::format("cannot create the schema {} for {}: {}", quoted, what, st.error().message));
}

Status CheckMetadataSchemaTrusted(pg::Connection& conn) {
  auto rows = conn.Query(std::string(kTrustedRoles) +
                         "SELECT quote_ident(pg_catalog.pg_get_userbyid(n.nspowner)), n.nspowner IN (SELECT oid FROM "
                         "trusted), quote_ident(current_user), (SELECT string_agg(DISTINCT CASE WHEN g.grantee = 0 "
                         "THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END, ', ') FROM "
                         "pg_catalog.aclexplode(n.nspacl) g WHERE g.privilege_type = 'CREATE' AND g.grantee NOT IN "
                         "(SELECT oid FROM trusted)) FROM pg_catalog.pg_namespace n WHERE n.nspname = '_derived'");
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Status::Ok();
  const std::string owner = rows->at(0, 0).value_or(""), me = rows->at(0, 2).value_or("");
  if (rows->at(0, 1).value_or("f") != "t") {
    return Error(fmt::format(
        "the metadata schema _derived is owned by the role {}, which is not {} nor a role {} is a member of: "
        "that role could have put tables, triggers or functions in it, so Derived does not use it (if it is "
        "yours, ALTER SCHEMA _derived OWNER TO {}; or drop it, and Derived makes its own)",
        owner, me, me, me));
  }
  if (auto others = rows->at(0, 3)) {
    return Error(fmt::format(
        "other roles may create objects in the metadata schema _derived (CREATE is granted to {}): they could "
        "put tables, triggers or functions in it, so Derived does not use it (REVOKE CREATE ON SCHEMA _derived "
        "FROM {})",
        *others, *others));
  }
  return Status::Ok();
}

Status EnsureFunctions(pg::Connection& conn) {
  if (auto st = CheckMetadataSchemaTrusted(conn); !st.ok()) return st;
  const std::string check = std::string(kTrustedRoles) +
                            "SELECT p.prosrc = $1 AND p.proowner IN (SELECT oid FROM trusted) AND p.prosecdef = false "
                            "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
                            "WHERE n.nspname = '_derived' AND p.proname = 'raise_error'";
  auto found = conn.Query(check, {std::string(kRaiseErrorBody)});
  if (!found.ok()) return found.error();
  if (found->size() == 0) {
    if (auto st = CreateSchemaIfMissing(conn, "_derived", "Derived's metadata"); !st.ok()) return st;
    // Another role may have made it since it was checked.
    if (auto st = CheckMetadataSchemaTrusted(conn); !st.ok()) return st;
    auto st = conn.Execute(fmt::format(
        "CREATE FUNCTION _derived.raise_error(message text) RETURNS boolean LANGUAGE plpgsql VOLATILE "
        "SET search_path = pg_catalog AS $fn${}$fn$",
        kRaiseErrorBody));
    if (!st.ok() && st.error().message.find("already exists") == std::string::npos &&
        st.error().message.find("duplicate key") == std::string::npos) {
      return st;
    }
    found = conn.Query(check, {std::string(kRaiseErrorBody)});
    if (!found.ok()) return found.error();
  }
  for (const auto& row : found->rows) {
    if (row[0].value_or("f") != "t") {
      return Error(
          "_derived.raise_error(text) is not the function Derived made (its body, owner or SECURITY DEFINER "
          "differ): drop it and Derived makes it again");
    }
  }
  if (found->size() != 1) return Error("_derived.raise_error(text) could not be made");
  return Status::Ok();
}

Status RefuseDuplicateStateRows(pg::Connection& conn) {
  constexpr int kNamed = 5;
  auto rows = conn.Query(fmt::format(
      "SELECT table_name, count(*) FROM _derived.state GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT {}",
      kNamed + 1));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return Status::Ok();
  std::vector<std::string> named;
  for (size_t i = 0; i < rows->size() && i < kNamed; ++i) {
    named.push_back(fmt::format("'{}' ({} rows)", rows->at(i, 0).value_or(""), rows->at(i, 1).value_or("?")));
  }
  if (rows->size() > kNamed) named.push_back("and more");
  return Error(fmt::format(
      "_derived.state holds more than one row for the table_name {}, so its unique index (one state row per "
      "table) cannot be made: Derived does not choose which to delete. Keep one row per table (for example the "
      "latest updated_at) and delete the others, then run again",
      Join(named, ", ")));
}

}  // namespace derived
