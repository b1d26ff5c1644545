#include "warehouse/postgres/typecheck.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "util/strings.h"
#include "warehouse/postgres/pq.h"
#include "warehouse/postgres/warehouse.h"

namespace derived {
namespace {

// "character varying(10)" -> "character varying"; "numeric(10,2)" -> "numeric".
std::string BaseType(const std::string& t) {
  size_t paren = t.find('(');
  return paren == std::string::npos ? t : Trim(t.substr(0, paren));
}

// Family and width rank; rank 0 = compare exactly.
std::pair<std::string, int> FamilyOf(const std::string& t) {
  static const std::map<std::string, std::pair<std::string, int>> kFamilies = {
      {"smallint", {"int", 1}},          {"integer", {"int", 2}}, {"bigint", {"int", 3}},
      {"numeric", {"int", 4}},           {"real", {"float", 1}},  {"double precision", {"float", 2}},
      {"character", {"text", 1}},        {"character varying", {"text", 2}}, {"text", {"text", 3}}};
  auto it = kFamilies.find(BaseType(t));
  return it == kFamilies.end() ? std::make_pair(t, 0) : it->second;
}

class PostgresTypeChecker final : public TypeChecker {
 public:
  PostgresTypeChecker(std::unique_ptr<Warehouse> wh, pg::ConnectOptions options)
      : wh_(std::move(wh)), options_(std::move(options)) {}
  ~PostgresTypeChecker() override { (void)wh_->Rollback(); }

  Status Start() {
    if (auto st = wh_->Begin(); !st.ok()) return st;
    // Binding only reads the catalog; never wait long for a lock someone else holds.
    return wh_->Execute("SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '60s'");
  }

  std::string_view engine() const override { return "postgres"; }

  bool IsTransient(const Error& e) const override { return pg::IsTransient(e.code); }

  // Under a savepoint: a declaration that fails (a lock not granted in time, say) leaves
  // the type-check's transaction usable.
  Status Declare(const std::string& dataset, const std::string& table,
                 const std::vector<OutputColumn>& columns) override {
    if (auto st = wh_->Execute("SAVEPOINT derived_declare"); !st.ok()) return st;
    Status st = DeclareNow(dataset, table, columns);
    Status undone = wh_->Execute(st.ok() ? "RELEASE SAVEPOINT derived_declare" : "ROLLBACK TO SAVEPOINT derived_declare");
    if (st.ok() && !undone.ok()) return undone;
    return st;
  }

  Status DeclareNow(const std::string& dataset, const std::string& table, const std::vector<OutputColumn>& columns) {
    auto existing = wh_->Columns(dataset, table);
    if (!existing.ok()) return existing.error();
    if (existing->has_value()) {  // bound as the warehouse has it
      std::vector<std::string> have, want;
      for (const auto& c : **existing) have.push_back(c.name);
      for (const auto& c : columns) want.push_back(c.name);
      for (auto& n : have) n = ToLower(n);  // Derived's names are case-insensitive
      for (auto& n : want) n = ToLower(n);
      if (have != want) {
        auto built = BuiltByDerived(dataset + "." + table);
        if (!built.ok()) return built.error();
        if (*built) shadows_[ToLower(dataset + "." + table)] = Shadow{dataset, table, columns};
        differs_[ToLower(dataset + "." + table)] = fmt::format(
            "{}.{} in the warehouse has columns ({}) where this project gives it ({}): it was bound as it is there, "
            "until it is rebuilt",
            dataset, table, Join(have, ", "), Join(want, ", "));
      }
      return Status::Ok();
    }
    // Not there yet: made empty in this transaction, under a savepoint. A build in another
    // session may be creating it (or its schema) meanwhile: then the CREATE waits for the
    // build and fails once it commits, and the table is bound as the build made it.
    if (auto st = wh_->Execute("SAVEPOINT derived_declare"); !st.ok()) return st;
    const SqlDialect& d = wh_->dialect();
    std::vector<std::string> defs;
    for (const auto& c : columns) defs.push_back(d.Ident(c.name) + " " + c.type);
    Status created = wh_->EnsureDataset(dataset);
    if (created.ok()) created = wh_->Execute(fmt::format("CREATE TABLE {} ({})", d.Table(dataset, table), Join(defs, ", ")));
    if (created.ok()) return wh_->Execute("RELEASE SAVEPOINT derived_declare");
    if (auto st = wh_->Execute("ROLLBACK TO SAVEPOINT derived_declare"); !st.ok()) return st;
    auto now = wh_->Columns(dataset, table);
    if (now.ok() && now->has_value()) return Declare(dataset, table, columns);  // bound as it is
    return created;
  }

  BindResult Bind(const std::string& sql, const std::string& dataset) override {
    BindResult out;
    auto fail = [&](const Error& e) {
      out.ok = false;
      out.error = e.message;
      out.transient = pg::IsTransient(e.code);
      return out;
    };
    // A failed bind aborts the transaction: each bind runs under a savepoint of its own.
    if (auto st = wh_->Execute("SAVEPOINT derived_bind"); !st.ok()) return fail(st.error());
    if (auto st = wh_->UseDataset(dataset); !st.ok()) return Restore(fail(st.error()));
    auto checked = wh_->CheckQuery(sql);
    if (!checked.ok()) return Restore(fail(checked.error()));
    std::set<std::string> shadowed = ShadowChanged(sql);
    auto cols = wh_->DescribeQuery(*checked, sql::Embedding::Describe());
    if (!cols.ok()) {
      fail(cols.error());
      std::string lower = ToLower(sql);
      for (const auto& [name, note] : differs_) {
        if (lower.find(name) != std::string::npos && !shadowed.count(name)) out.error += "\n(note: " + note + ")";
      }
      // The server's position (where.column, 1-based) counts in the statement described:
      // a line break, then the text checked (`sql` without its leading space).
      int64_t start = static_cast<int64_t>(sql.find(checked->text()));
      int64_t in_sql = cols.error().where.column - 2 + start;
      if (cols.error().where.column > 0 && start >= 0 && in_sql >= 0 && in_sql <= static_cast<int64_t>(sql.size())) {
        out.error_offset = in_sql;
      }
      return Restore(out);
    }
    out.columns = std::move(*cols);
    return Restore(out, /*undo=*/!shadowed.empty());
  }

  Result<std::string> CanonicalType(const std::string& type) override { return wh_->CanonicalType(type); }

  bool TypeFits(const std::string& declared, const std::string& actual) const override {
    return PostgresTypeFits(declared, actual);
  }

  // Prepared and described on a connection of its own, in a transaction rolled back
  // straight after: the server parses and analyses the text and runs none of it (a
  // prepared statement is one statement, planned only when executed, which it never is).
  bool Accepts(const std::string& sql) override {
    if (!raw_) {
      auto conn = pg::Connection::Open(options_);
      if (!conn.ok()) return false;
      raw_ = std::move(*conn);
    }
    if (!raw_->Execute("BEGIN").ok()) return false;
    bool ok = raw_->Describe(sql).ok();
    (void)raw_->Execute("ROLLBACK");
    return ok;
  }

 private:
  // True when Derived built `table` (it has a state row): a table it will rebuild. A
  // source is what it is, whatever its file declares.
  Result<bool> BuiltByDerived(const std::string& table) {
    auto meta = wh_->Query("SELECT to_regclass('_derived.state') IS NOT NULL");
    if (!meta.ok()) return meta.error();
    if (meta->at(0, 0).value_or("f") != "t") return false;
    auto row = wh_->Query("SELECT count(*) FROM _derived.state WHERE table_name = " +
                          wh_->dialect().Literal(ToLower(table)));
    if (!row.ok()) return row.error();
    return row->at(0, 0).value_or("0") != "0";
  }

  // A relation the project changed (its columns differ from the warehouse's, until it is
  // rebuilt) is bound as the project gives it: renamed out of the way and made empty with
  // the project's columns, under the bind's savepoint, which is always rolled back after
  // (so the table's lock is held only for the bind). When that is not possible (someone
  // holds a lock on it for longer than the timeout, another owner), it is bound as it is.
  // Returns the relations shadowed. `sql` names them (a text search: one read through a
  // view keeps the view's own binding either way).
  std::set<std::string> ShadowChanged(const std::string& sql) {
    std::set<std::string> done;
    std::string lower = ToLower(sql);
    const SqlDialect& d = wh_->dialect();
    for (const auto& [name, shadow] : shadows_) {
      if (lower.find(name) == std::string::npos) continue;
      if (!wh_->Execute("SAVEPOINT derived_shadow").ok()) break;
      std::vector<std::string> defs;
      for (const auto& c : shadow.columns) defs.push_back(d.Ident(c.name) + " " + c.type);
      Status st = wh_->Execute(fmt::format("SET LOCAL lock_timeout = '500ms'; ALTER TABLE {} RENAME TO {}; CREATE "
                                           "TABLE {} ({}); SET LOCAL lock_timeout = '2s'",
                                           d.Table(shadow.dataset, shadow.table), d.Ident("__derived_check_" + shadow.table),
                                           d.Table(shadow.dataset, shadow.table), Join(defs, ", ")));
      if (!wh_->Execute(st.ok() ? "RELEASE SAVEPOINT derived_shadow" : "ROLLBACK TO SAVEPOINT derived_shadow").ok()) {
        break;
      }
      if (st.ok()) done.insert(name);
    }
    return done;
  }

  // Ends the bind's savepoint: released, or rolled back when the bind failed or `undo`
  // (it shadowed a relation).
  BindResult Restore(BindResult r, bool undo = false) {
    Status st = !r.ok || undo ? wh_->Execute("ROLLBACK TO SAVEPOINT derived_bind")
                              : wh_->Execute("RELEASE SAVEPOINT derived_bind");
    if (!st.ok()) {
      // The type-check's transaction is gone (the connection broke): no verdict on this
      // query, nor on any after it.
      r.ok = false;
      if (r.error.empty()) r.error = st.error().message;
      r.transient = true;
    }
    return r;
  }

  std::unique_ptr<Warehouse> wh_;
  struct Shadow {
    std::string dataset, table;
    std::vector<OutputColumn> columns;  // as the project gives them
  };
  std::map<std::string, Shadow> shadows_;       // relation -> the project's version of it
  std::map<std::string, std::string> differs_;  // relation -> why it is not as declared
  pg::ConnectOptions options_;
  std::unique_ptr<pg::Connection> raw_;  // for Accepts
};

}  // namespace

bool PostgresTypeFits(const std::string& declared, const std::string& actual) {
  if (declared == actual) return true;
  if (declared == "timestamp without time zone" && actual == "date") return true;
  auto [dfam, drank] = FamilyOf(declared);
  auto [afam, arank] = FamilyOf(actual);
  if (drank == 0 || arank == 0 || dfam != afam) return false;
  // A bounded declaration (varchar(10), numeric(10,2)) takes only the same type.
  if (declared.find('(') != std::string::npos) return false;
  return drank >= arank;
}

Result<std::unique_ptr<TypeChecker>> CreatePostgresTypeChecker(const pg::ConnectOptions& options) {
  auto wh = OpenPostgresWarehouse(options);
  if (!wh.ok()) return wh.error();
  auto tc = std::make_unique<PostgresTypeChecker>(std::move(*wh), options);
  if (auto st = tc->Start(); !st.ok()) return st.error();
  return std::unique_ptr<TypeChecker>(std::move(tc));
}

}  // namespace derived
