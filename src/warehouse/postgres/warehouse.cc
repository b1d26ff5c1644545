// The PostgreSQL warehouse: a server shared by many processes, one libpq connection per
// session. User SQL is checked by DuckDB's parser (the same checks as on DuckDB, on a
// private in-memory DuckDB that holds no data), then runs on the server.
#include "warehouse/postgres/warehouse.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "db/duckdb.h"
#include "sql/parser.h"
#include "time/schedule.h"
#include "util/hash.h"
#include "util/strings.h"
#include "warehouse/metadata_tables.h"
#include "warehouse/postgres/attached.h"
#include "warehouse/postgres/coordination.h"
#include "warehouse/postgres/pq.h"
#include "warehouse/postgres/schemas.h"
#include "warehouse/postgres/script.h"
#include "warehouse/postgres/typecheck.h"
#include "warehouse/sql_writer.h"

namespace derived {
namespace {

class PostgresDialect final : public SqlDialect {
 public:
  // An escape string, E'...' with backslashes and quotes doubled, means the same text
  // whatever standard_conforming_strings says (the session pins it on; this holds even
  // if something turned it off).
  std::string Literal(std::string_view text) const override {
    std::string out = "E'";
    for (char c : text) {
      if (c == '\\' || c == '\'') out += c;
      out += c;
    }
    return out + "'";
  }
  std::string TempTable(const std::string& name) const override { return "pg_temp." + Ident(name); }
  std::string TimestampLiteral(Timestamp t) const override { return FormatSqlLiteral(t); }
  bool TypeFits(const std::string& declared, const std::string& actual) const override {
    return PostgresTypeFits(declared, actual);
  }
  std::string IsoText(const std::string& expr) const override {
    return "to_char(" + expr + ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
  }
  // _derived.raise_error is created with the metadata schema (EnsureFunctions).
  std::string RaiseIf(const std::string& condition, std::string_view message) const override {
    return fmt::format("CASE WHEN {} THEN _derived.raise_error({}) ELSE true END", condition, Literal(message));
  }

  // One row per key, from one sort of the batch by its keys where the types allow. A
  // first pass of window aggregates over each key's rows (sharing that sort) finds the
  // key's latest and earliest time, and per coalesce column the earliest time at which
  // it has a value. The second, over the same order, takes for `latest` max(c) over the
  // rows at the latest time: the value that ordering the rows by (time DESC NULLS LAST,
  // c DESC NULLS LAST) puts first, as documented; `earliest` and `coalesce` likewise
  // with min. A key whose rows all lack a time ties them all, as that ordering does (IS
  // NOT DISTINCT FROM). Then one row per key is kept (DISTINCT ON): within a key every
  // column agrees. Results are cast back to the column's type (max of a varchar is a
  // text, and aggregates drop a type's modifier).
  // A type without min and max aggregates (jsonb, uuid, bytea, ...) or without an order
  // (json) gets first_value over an ordering of its own, a sort each: PostgreSQL has no
  // first(), and (array_agg(c ORDER BY ...))[1] breaks on arrays (a two-dimensional
  // result) and cannot break ties on types without an order. Booleans have bool_and /
  // bool_or for min / max.
  Combine CombineByKey(const std::vector<std::string>& keys, const std::vector<BatchColumn>& columns,
                       const std::string& tc) const override {
    const std::string over = "OVER (PARTITION BY " + Join(keys, ", ") + ")";
    std::vector<std::string> select = keys, first_pass;
    auto at = [&](const std::string& name, const std::string& expr) {
      if (std::find(first_pass.begin(), first_pass.end(), expr + " AS " + name) == first_pass.end()) {
        first_pass.push_back(expr + " AS " + name);
      }
      return name;
    };
    int coalesced = 0;
    for (const auto& col : columns) {
      const std::string& c = col.name;
      const bool boolean = col.type == "boolean";
      const char* min = boolean ? "bool_and" : "min";
      const char* max = boolean ? "bool_or" : "max";
      // The extreme of c over the rows at the time `when` (a first-pass column).
      auto among = [&](const char* agg, const std::string& when) {
        return fmt::format("CAST({}({}) FILTER (WHERE {} IS NOT DISTINCT FROM {}) {} AS {})", agg, c, tc, when, over,
                           col.type);
      };
      std::string e;
      if ((col.rule == MergeRule::kLatest || col.rule == MergeRule::kEarliest || col.rule == MergeRule::kCoalesce) &&
          !HasMinMax(col.type)) {
        e = FirstValue(keys, col, tc);
      } else {
        switch (col.rule) {
          case MergeRule::kLatest:
            e = among(max, at("__derived_last", fmt::format("max({}) {}", tc, over)));
            break;
          case MergeRule::kEarliest:
            e = among(min, at("__derived_first", fmt::format("min({}) {}", tc, over)));
            break;
          case MergeRule::kCoalesce:
            e = among(min, at(fmt::format("__derived_valued_{}", ++coalesced),
                              fmt::format("min({}) FILTER (WHERE {} IS NOT NULL) {}", tc, c, over)));
            break;
          case MergeRule::kMin:
            e = fmt::format("{}({}) {}", min, c, over);
            break;
          case MergeRule::kMax:
            e = fmt::format("{}({}) {}", max, c, over);
            break;
          case MergeRule::kSum:
            e = fmt::format("sum({}) {}", c, over);
            break;
          case MergeRule::kCount:
            e = fmt::format("count({}) {}", c, over);
            break;
        }
      }
      select.push_back(e + " AS " + c);
    }
    const std::string outer = "DISTINCT ON (" + Join(keys, ", ") + ") " + Join(select, ", ");
    if (first_pass.empty()) return {outer, ""};
    // The first pass is a subquery around the batch (src): the select list opens it and
    // what follows the batch closes it.
    return {outer + " FROM (SELECT src.*, " + Join(first_pass, ", "), ") AS src"};
  }

 private:
  // first_value(c) over the key's rows in the documented order: the fallback for types
  // that have no min and max.
  static std::string FirstValue(const std::vector<std::string>& keys, const BatchColumn& col, const std::string& tc) {
    const std::string& c = col.name;
    const bool ordered = Ordered(col.type);
    std::string order;
    switch (col.rule) {
      case MergeRule::kLatest:
        order = fmt::format("{} DESC NULLS LAST{}", tc, ordered ? ", " + c + " DESC NULLS LAST" : "");
        break;
      case MergeRule::kEarliest:
        order = fmt::format("{} ASC NULLS LAST{}", tc, ordered ? ", " + c + " ASC NULLS LAST" : "");
        break;
      default:  // coalesce
        order = fmt::format("({} IS NULL), {} ASC NULLS LAST{}", c, tc, ordered ? ", " + c + " ASC" : "");
        break;
    }
    return fmt::format(
        "first_value({}) OVER (PARTITION BY {} ORDER BY {} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
        c, Join(keys, ", "), order);
  }

  // Types whose values have no order: ties on the time column are left to the server.
  static bool Ordered(const std::string& type) {
    static const std::set<std::string> kUnordered = {"json", "xml", "point", "line", "lseg", "box", "path",
                                                     "polygon", "circle"};
    std::string base = type;
    while (base.size() > 2 && base.compare(base.size() - 2, 2, "[]") == 0) base.resize(base.size() - 2);
    return !kUnordered.count(base);
  }

  // Types (and arrays of them: max(anyarray) compares as ORDER BY does) whose min and
  // max aggregates order values exactly as ORDER BY does, in spellings the server
  // prints (format_type) and Derived's parser reads in a CAST. A modifier is kept only
  // where that parser reads it back.
  static bool HasMinMax(const std::string& type) {
    static const std::set<std::string> kPlain = {
        "smallint", "integer", "bigint", "real", "double precision", "numeric", "text", "date",
        "timestamp without time zone", "timestamp with time zone", "time without time zone", "time with time zone",
        "interval", "money", "inet", "oid", "pg_lsn", "character varying", "character"};
    static const std::set<std::string> kModified = {"numeric", "character varying", "character",
                                                    "timestamp without time zone"};
    std::string base = type;
    while (base.size() > 2 && base.compare(base.size() - 2, 2, "[]") == 0) base.resize(base.size() - 2);
    if (base == "boolean") return true;  // bool_and / bool_or; max(anyarray) for arrays
    const size_t open = base.find('(');
    if (open == std::string::npos) return kPlain.count(base) > 0;
    const size_t close = base.find(')', open);
    if (close == std::string::npos) return false;
    const std::string name = base.substr(0, open) + base.substr(close + 1);
    return kModified.count(name) > 0;
  }
};

// What every session of one warehouse shares: where it is and who is running.
struct Shared {
  pg::ConnectOptions options;
  std::mutex mu;
  std::set<pg::Connection*> sessions;  // guarded by mu
};

// The text of a DESCRIBE-shaped statement without its DESCRIBE: PostgreSQL describes a
// prepared statement instead. The line break after DESCRIBE is kept, so the query starts
// on the line Embedding::QueryLine() says.
std::string_view WithoutDescribe(std::string_view statement) {
  std::string_view rest = statement;
  if (rest.size() >= 8 && ToLower(std::string(rest.substr(0, 8))) == "describe") rest.remove_prefix(8);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

Result<int64_t> Changed(const Result<Rows>& rows, int64_t changed) {
  if (!rows.ok()) return rows.error();
  return changed;
}

class PostgresStatement final : public Statement {
 public:
  // `conn` is the session's connection slot: a reconnect replaces what it holds;
  // `reconnected` makes a lost one again when that is safe (the session's Reconnected).
  PostgresStatement(std::unique_ptr<pg::Connection>* conn, std::function<Status()> reconnected, std::string sql)
      : conn_(conn), reconnected_(std::move(reconnected)), sql_(std::move(sql)) {}

  Result<int64_t> Run(const std::vector<Value>& params) override {
    std::vector<std::optional<std::string>> text;
    text.reserve(params.size());
    for (const Value& v : params) {
      if (std::holds_alternative<std::monostate>(v)) text.emplace_back(std::nullopt);
      if (const auto* s = std::get_if<std::string>(&v)) text.emplace_back(*s);
      if (const auto* n = std::get_if<int64_t>(&v)) text.emplace_back(std::to_string(*n));
      if (const auto* b = std::get_if<bool>(&v)) text.emplace_back(*b ? "true" : "false");
    }
    if (auto st = reconnected_(); !st.ok()) return st.error();
    int64_t changed = 0;
    auto rows = crash::AtStatement(sql_, [&] { return (*conn_)->Query(sql_, text, &changed); });
    return Changed(rows, changed);
  }

 private:
  std::unique_ptr<pg::Connection>* conn_;
  std::function<Status()> reconnected_;
  std::string sql_;
};

// A view (or materialized view) that reads a table, directly or through other views,
// as the server holds it: enough to make it again exactly.
struct DependentView {
  std::string name;        // quoted schema.name
  std::string qualified;   // schema.name, unquoted (as Derived names tables)
  bool materialized = false;
  bool populated = true;   // a materialized view's rows were there
  std::string definition;  // the server's own text of its query (pg_get_viewdef)
  std::string options;     // reloptions, "" or "security_barrier=true, ..."
  std::string owner;       // quoted role
  std::vector<std::string> comments;  // on it and its columns, as statements
  Attached attached;       // grants, triggers, rules, indexes
};

class PostgresTableWriter final : public SqlTableWriter {
 public:
  using SqlTableWriter::SqlTableWriter;

  // PostgreSQL binds a view to the table it reads (not to its name) and refuses to drop
  // a table a view reads. So views that read the table, anyone's, are dropped and made
  // again on the new version in the same transaction, from the server's own text of
  // their queries, with their options, comments, owner and what users attached to them
  // (warehouse/postgres/attached.h). When one no longer fits the new version (a column
  // it reads is gone) the swap fails, naming it, and the transaction rolls back: the old
  // version and every view stay as they were.
  // The table itself keeps its grants (its columns' too, for the columns the new version
  // has) and its owner. Its triggers and rules are not carried over but refused, naming
  // them: they act on the writes that fill a table, and the new version was filled
  // without them (an audit trigger would have missed every row of it), so it would not be
  // what they promise; dropping them silently would be worse. Row-level security and
  // policies likewise, as dropping them would widen what readers see.
  Result<int64_t> SwapIn(const TableDef& def, const std::set<std::string>& own_views) override {
    const std::string table = Name(def, Into::kTable);
    Attached kept;
    std::vector<DependentView> views;
    if (auto st = InEmptySearchPath(wh_, [&]() -> Status {
          auto read = ReadAttached(wh_, table);
          if (!read.ok()) return read.error();
          kept = std::move(*read);
          if (!kept.exists) return Status::Ok();
          auto readers = Dependents(table);
          if (!readers.ok()) return readers.error();
          views = std::move(*readers);
          return Status::Ok();
        });
        !st.ok()) {
      return st.error();
    }
    if (auto st = RefuseWhatASwapWouldDrop(table, kept); !st.ok()) return st.error();
    for (auto it = views.rbegin(); it != views.rend(); ++it) {
      if (auto st = wh_.Execute(fmt::format("DROP {}VIEW {}", it->materialized ? "MATERIALIZED " : "", it->name));
          !st.ok()) {
        return Error(fmt::format("cannot swap in the new version: the view {} reads it and cannot be dropped "
                                 "to be made again: {}", it->name, st.error().message));
      }
    }
    auto old_rows = SqlTableWriter::SwapIn(def, own_views);
    if (!old_rows.ok()) return old_rows;
    if (auto st = RenamePartitions(def); !st.ok()) return st.error();
    // The table's indexes are Derived's own, made on the staging copy.
    std::erase_if(kept.items, [](const Attached::Item& i) { return i.kind == Attached::Item::Kind::kIndex; });
    auto columns = ColumnsNow(def);
    if (!columns.ok()) return columns.error();
    if (auto st = GiveBack(wh_, table, "TABLE", kept, &*columns); !st.ok()) return st.error();
    std::set<std::string> left_to_updater;
    for (const DependentView& v : views) {
      // A materialized view is made empty and filled by REFRESH once its owner is back:
      // its query then runs with the owner's privileges, never Derived's.
      const char* kind = v.materialized ? "MATERIALIZED VIEW" : "VIEW";
      std::string create = fmt::format("CREATE {} {}{} AS {}{}", kind, v.name,
                                       v.options.empty() ? "" : " WITH (" + v.options + ")", v.definition,
                                       v.materialized ? " WITH NO DATA" : "");
      if (own_views.count(v.qualified)) {
        // The project's own view: made again as it was when its query still fits, or
        // else left to its updater, which makes it from its definition after this swap.
        if (auto st = wh_.Execute("SAVEPOINT derived_view"); !st.ok()) return st.error();
        auto made = wh_.Execute(create);
        if (auto st = wh_.Execute(made.ok() ? "RELEASE SAVEPOINT derived_view" : "ROLLBACK TO SAVEPOINT derived_view");
            !st.ok()) {
          return st.error();
        }
        if (!made.ok()) {
          left_to_updater.insert(v.name);
          continue;
        }
      } else if (auto st = wh_.Execute(create); !st.ok()) {
        std::string also;
        if (!left_to_updater.empty()) {
          also = fmt::format(" (the project's views it may read, {}, are made again only after the new version is in)",
                             Join(std::vector<std::string>(left_to_updater.begin(), left_to_updater.end()), ", "));
        }
        return Error(fmt::format("the view {} reads {} and does not fit its new version, so nothing was changed "
                                 "(change or drop the view first): {}{}",
                                 v.name, table, Split(st.error().message, '\n')[0], also));
      }
      for (const std::string& sql : v.comments) {
        if (auto st = wh_.Execute(sql); !st.ok()) {
          return Error(fmt::format("cannot restore the view {} on the new version: {}", v.name, st.error().message));
        }
      }
      // Its owner is always given back: it was dropped and made by Derived.
      Attached attached = v.attached;
      attached.owner = v.owner;
      if (auto st = GiveBack(wh_, v.name, kind, attached); !st.ok()) return st.error();
      if (v.materialized && v.populated) {
        if (auto st = wh_.Execute("REFRESH MATERIALIZED VIEW " + v.name); !st.ok()) {
          return Error(fmt::format("cannot restore the view {} on the new version: {}", v.name, st.error().message));
        }
      }
    }
    return old_rows;
  }

  // CREATE OR REPLACE VIEW keeps a view's columns (it may only add some at the end), so
  // a view whose columns changed is dropped and created again, in the same transaction.
  WriteStatus CreateView(const sql::CheckedSelect& query, const WriteTarget& t) override {
    if (auto st = wh_.Execute("SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
    auto replaced = SqlTableWriter::CreateView(query, t);
    if (replaced.ok()) {
      if (auto st = wh_.Execute("RELEASE SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
      return replaced;
    }
    if (auto st = wh_.Execute("ROLLBACK TO SAVEPOINT derived_view"); !st.ok()) return WriteError(st.error());
    // What users attached to the old view goes to the new one: grants (on the columns it
    // still has), triggers, rules and owner.
    const std::string view = Name(*t.def, Into::kTable);
    Attached kept;
    if (auto st = InEmptySearchPath(wh_, [&]() -> Status {
          auto read = ReadAttached(wh_, view);
          if (!read.ok()) return read.error();
          kept = std::move(*read);
          return Status::Ok();
        });
        !st.ok()) {
      return WriteError(st.error());
    }
    if (auto st = wh_.Execute("DROP VIEW IF EXISTS " + view); !st.ok()) return WriteError(st.error());
    auto made = SqlTableWriter::CreateView(query, t);
    if (!made.ok()) return made;
    auto columns = ColumnsNow(*t.def);
    if (!columns.ok()) return WriteError(columns.error());
    if (auto st = GiveBack(wh_, view, "VIEW", kept, &*columns); !st.ok()) return WriteError(st.error());
    return made;
  }

 protected:
  // A heap table has no order of its own: what finds rows fast is an index. A merge
  // table gets a unique index on its keys (the upsert's join, and a guarantee), an
  // append table one on its time column (a window's delete and the readers' ranges),
  // and cluster_by one of its own.
  // partition_by (validate allows only [time_column], on append and merge tables): range
  // partitions on the time column, one per day (per week or month for tables on those
  // schedules), made as windows arrive, and a default partition for the rest.
  std::string TableClauses(const TableDef& def) const override {
    if (def.partition_by.empty()) return "";
    return " PARTITION BY RANGE (" + wh_.dialect().Ident(def.partition_by[0]) + ")";
  }

  Status PrepareRange(const TableDef& def, Into into, Timestamp from, Timestamp to) override {
    if (def.partition_by.empty()) return Status::Ok();
    const SqlDialect& d = wh_.dialect();
    const Schedule period = PartitionPeriod(def);
    const std::string parent = Name(def, into), base = PartitionBase(def, into);
    int made = 0;
    for (Timestamp s = FloorToPeriod(from, period); s < to && made < kMaxPartitionsPerWrite;
         s = NextBoundary(s, period), ++made) {
      const std::string name = d.Table(def.dataset, base + PartitionSuffix(s));
      auto there = wh_.Query("SELECT to_regclass(" + d.Literal(name) + ") IS NOT NULL");
      if (!there.ok()) return there.error();
      if (there->at(0, 0).value_or("f") == "t") continue;
      // Rows of the period already in the default partition (written before the table had
      // partitions, or beyond the bound below) keep it from being made: they stay where
      // they are, as correct as anywhere, and the rest goes on.
      if (auto st = wh_.Execute("SAVEPOINT derived_partition"); !st.ok()) return st;
      auto made_it = wh_.Execute(fmt::format("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})", name,
                                             parent, d.TimestampLiteral(s), d.TimestampLiteral(NextBoundary(s, period))));
      const bool kept_out = !made_it.ok() && made_it.error().message.find("would be violated") != std::string::npos;
      if (auto st = wh_.Execute(made_it.ok() ? "RELEASE SAVEPOINT derived_partition"
                                             : "ROLLBACK TO SAVEPOINT derived_partition");
          !st.ok()) {
        return st;
      }
      if (!made_it.ok() && !kept_out) return made_it;
    }
    return Status::Ok();
  }

  Status AddIndexes(const TableDef& def, Into into) override {
    const SqlDialect& d = wh_.dialect();
    const std::string table = Name(def, into);
    if (!def.partition_by.empty()) {
      if (auto st = wh_.Execute(fmt::format("CREATE TABLE {} PARTITION OF {} DEFAULT",
                                            d.Table(def.dataset, PartitionBase(def, into) + "__default"), table));
          !st.ok()) {
        return st;
      }
    }
    auto quoted = [&](const std::vector<std::string>& cols) {
      std::vector<std::string> q;
      for (const auto& c : cols) q.push_back(d.Ident(c));
      return Join(q, ", ");
    };
    std::vector<std::string> statements;
    if (def.strategy == Strategy::kMerge && !def.merge.keys.empty()) {
      // A unique index of a partitioned table must hold the partition column, which would
      // not make the keys unique: there the index only finds them (the merge itself, under
      // the table's lock, keeps one row per key).
      statements.push_back(fmt::format("CREATE {}INDEX ON {} ({})", def.partition_by.empty() ? "UNIQUE " : "", table,
                                       quoted(def.merge.keys)));
    }
    if (def.strategy == Strategy::kAppend && !def.time_column.empty() &&
        (def.cluster_by.empty() || def.cluster_by[0] != def.time_column)) {
      statements.push_back(fmt::format("CREATE INDEX ON {} ({})", table, d.Ident(def.time_column)));
    }
    if (!def.cluster_by.empty()) {
      statements.push_back(fmt::format("CREATE INDEX ON {} ({})", table, quoted(def.cluster_by)));
    }
    for (const auto& sql : statements) {
      if (auto st = wh_.Execute(sql); !st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  static constexpr int kMaxPartitionsPerWrite = 400;

  static Schedule PartitionPeriod(const TableDef& def) {
    return def.schedule == Schedule::kHourly ? Schedule::kDaily : def.schedule;
  }
  // "<table>__p20240103": the period's first day. PostgreSQL cuts names at 63 bytes, so a
  // long table name is shortened and made unique by a hash of it.
  static std::string PartitionBase(const TableDef& def, Into into) {
    std::string base = into == Into::kStaging ? StagingName(def) : def.name;
    if (base.size() <= 50) return base;
    return base.substr(0, 40) + "_" + ContentHash(base).substr(0, 8);
  }
  static std::string PartitionSuffix(Timestamp start) {
    std::string iso = FormatIso(start);  // 2024-01-03T00:00:00Z
    return "__p" + iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
  }

  // A rebuilt table's partitions were made under the staging copy's name: renamed after
  // it, so the next windows find them.
  Status RenamePartitions(const TableDef& def) {
    if (def.partition_by.empty()) return Status::Ok();
    const SqlDialect& d = wh_.dialect();
    const std::string from = PartitionBase(def, Into::kStaging), to = PartitionBase(def, Into::kTable);
    auto parts = wh_.Query("SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = "
                           "i.inhrelid WHERE i.inhparent = to_regclass(" + d.Literal(Name(def, Into::kTable)) + ")");
    if (!parts.ok()) return parts.error();
    for (const auto& r : parts->rows) {
      const std::string name = r[0].value_or("");
      if (!StartsWith(name, from)) continue;
      if (auto st = wh_.Execute(fmt::format("ALTER TABLE {} RENAME TO {}", d.Table(def.dataset, name),
                                            d.Ident(to + name.substr(from.size()))));
          !st.ok()) {
        return st;
      }
    }
    return Status::Ok();
  }

  // The error for a table that has what a swap would drop and Derived does not carry
  // over (SwapIn says why), naming each.
  static Status RefuseWhatASwapWouldDrop(const std::string& table, const Attached& a) {
    using Kind = Attached::Item::Kind;
    std::vector<std::string> found;
    if (a.row_security) found.push_back("row-level security");
    for (const auto& [kind, what] : {std::pair{Kind::kPolicy, "policy"}, std::pair{Kind::kTrigger, "trigger"},
                                     std::pair{Kind::kRule, "rule"}}) {
      for (const std::string& name : a.Names(kind)) found.push_back(fmt::format("the {} {}", what, name));
    }
    if (found.empty()) return Status::Ok();
    return Error(fmt::format("{} has {}, which a swap would drop: Derived does not replace it (its new version is "
                             "written without triggers and rules, and without policies would show readers more; "
                             "remove them, or keep them on a table or view of your own that reads it)",
                             table, Join(found, ", ")));
  }

  // The names of the table's (or view's) columns as it is now.
  Result<std::set<std::string>> ColumnsNow(const TableDef& def) {
    auto cols = Columns(def, Into::kTable);
    if (!cols.ok()) return cols.error();
    std::set<std::string> names;
    for (const auto& c : cols->value_or(std::vector<OutputColumn>{})) names.insert(c.name);
    return names;
  }

  // The views reading `table` (quoted schema.name), readers of readers included, in
  // the order they can be made (each after what it reads).
  // REQUIRES: the search path is empty (InEmptySearchPath), so every name in their text
  // comes qualified.
  Result<std::vector<DependentView>> Dependents(const std::string& table) {
    const std::string t = wh_.dialect().Literal(table);
    auto rows = wh_.Query(fmt::format(
        "WITH RECURSIVE reader(oid, depth) AS ("
        " SELECT r.ev_class, 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
        "  WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
        "  AND d.refobjid = to_regclass({0})"
        "  AND r.ev_class <> d.refobjid"
        " UNION"
        " SELECT r.ev_class, reader.depth + 1 FROM reader JOIN pg_catalog.pg_depend d ON d.refobjid = reader.oid"
        "  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
        "  WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
        "  AND r.ev_class <> reader.oid AND reader.depth < 64)"
        "SELECT format('%I.%I', n.nspname, c.relname), c.relkind = 'm', c.oid,"
        " coalesce(array_to_string(c.reloptions, ', '), ''), quote_ident(pg_catalog.pg_get_userbyid(c.relowner)),"
        " (SELECT max(depth) FROM reader x WHERE x.oid = c.oid) AS depth, c.relispopulated,"
        " n.nspname || '.' || c.relname "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid IN (SELECT oid FROM reader) ORDER BY depth, 1",
        t));
    if (!rows.ok()) return rows.error();
    std::vector<DependentView> views;
    for (const auto& r : rows->rows) {
      DependentView v;
      v.name = r[0].value_or("");
      v.materialized = r[1].value_or("f") == "t";
      v.options = r[3].value_or("");
      v.owner = r[4].value_or("");
      v.populated = r[6].value_or("t") == "t";
      v.qualified = r[7].value_or("");
      const std::string oid = r[2].value_or("0");
      auto def = wh_.Query("SELECT pg_catalog.pg_get_viewdef(" + oid + "::oid)");
      if (!def.ok()) return def.error();
      v.definition = def->at(0, 0).value_or("");
      while (!v.definition.empty() && (v.definition.back() == ';' || v.definition.back() == '\n' ||
                                       v.definition.back() == ' ')) {
        v.definition.pop_back();
      }
      // Comments on the view and its columns.
      auto comments = wh_.Query(fmt::format(
          "SELECT format('COMMENT ON {0} %s IS %L', {1}, d.description) FROM pg_catalog.pg_description d "
          " WHERE d.objoid = {2}::oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0 "
          "UNION ALL SELECT format('COMMENT ON COLUMN %s.%I IS %L', {1}, a.attname, d.description) "
          " FROM pg_catalog.pg_description d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND "
          " a.attnum = d.objsubid WHERE d.objoid = {2}::oid AND d.classoid = 'pg_catalog.pg_class'::regclass "
          " AND d.objsubid > 0",
          v.materialized ? "MATERIALIZED VIEW" : "VIEW", wh_.dialect().Literal(v.name), oid));
      if (!comments.ok()) return comments.error();
      for (const auto& c : comments->rows) v.comments.push_back(c[0].value_or(""));
      auto attached = ReadAttached(wh_, v.name);
      if (!attached.ok()) return attached.error();
      v.attached = std::move(*attached);
      views.push_back(std::move(v));
    }
    return views;
  }
};

class PostgresWarehouse final : public Warehouse {
 public:
  PostgresWarehouse(std::shared_ptr<Shared> shared, std::unique_ptr<pg::Connection> conn)
      : shared_(std::move(shared)), conn_(std::move(conn)) {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->sessions.insert(conn_.get());
  }
  ~PostgresWarehouse() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->sessions.erase(conn_.get());
  }

  static Result<std::unique_ptr<Warehouse>> OpenSession(std::shared_ptr<Shared> shared) {
    auto conn = pg::Connection::Open(shared->options);
    if (!conn.ok()) return conn.error();
    return std::unique_ptr<Warehouse>(new PostgresWarehouse(std::move(shared), std::move(*conn)));
  }

  std::string_view engine() const override { return "postgres"; }
  Capabilities capabilities() const override { return CapabilitiesOf(WarehouseEngine::kPostgres); }

  // A transaction-scoped advisory lock on a key derived from the table's name: released
  // by COMMIT or ROLLBACK, or when the connection dies.
  Status LockTable(const std::string& table, LockMode mode) override {
    auto locked = conn_->Query(mode == LockMode::kShared ? "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))"
                                                         : "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               {"derived.table:" + table});
    if (!locked.ok()) return locked.error();
    return Status::Ok();
  }
  const SqlDialect& dialect() const override { return dialect_; }
  TableWriter& writer() override { return writer_; }
  Coordination* coordination() override {
    if (!coordination_) {
      coordination_ = NewPostgresCoordination(&conn_, [this] { return Reconnected(); }, shared_->options);
    }
    return coordination_.get();
  }

  Result<std::unique_ptr<Warehouse>> Connect() override { return OpenSession(shared_); }
  void Interrupt() override {
    std::lock_guard<std::mutex> lock(shared_->mu);  // a reconnect replaces conn_ under it
    conn_->Cancel();
  }
  void InterruptAll() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    for (pg::Connection* c : shared_->sessions) c->Cancel();
  }
  // The server keeps its data consistent through any client failure: a lost connection
  // rolls back what it had not committed, and the next session starts clean.
  std::optional<std::string> Failure() const override { return std::nullopt; }

  Status Execute(std::string_view sql) override {
    if (auto st = Reconnected(); !st.ok()) return st;
    return crash::AtStatement(sql, [&] { return conn_->Execute(sql); });
  }
  Result<Rows> Query(std::string_view sql) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    return crash::AtStatement(sql, [&] { return conn_->Query(sql); });
  }
  Result<int64_t> ExecuteCount(std::string_view sql) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    int64_t changed = 0;
    auto rows = crash::AtStatement(sql, [&] { return conn_->Query(sql, {}, &changed); });
    return Changed(rows, changed);
  }
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    return std::unique_ptr<Statement>(
        new PostgresStatement(&conn_, [this] { return Reconnected(); }, std::string(sql)));
  }

  // libpq learns that an idle connection was cut only when a statement fails: a BEGIN
  // that failed so is tried once more on a new connection (it had done nothing).
  Status Begin() override {
    auto st = Execute("BEGIN");
    if (!st.ok() && conn_->Lost()) st = Execute("BEGIN");
    if (!st.ok()) return st;
    in_transaction_ = true;
    return Status::Ok();
  }
  // A COMMIT of a transaction that had failed succeeds as a ROLLBACK: never a success.
  Status Commit() override {
    std::string tag;
    auto st = crash::AtStatement("COMMIT", [&] { return conn_->Execute("COMMIT", &tag); });
    if (!st.ok()) return st;
    in_transaction_ = false;
    if (tag != "COMMIT") return Error("the transaction could not commit and was rolled back");
    return Status::Ok();
  }
  // A SET inside a transaction is undone by its rollback: the dataset in use is set
  // again, so the session's later statements resolve names as before.
  Status Rollback() override {
    // The server rolled back what a lost connection had not committed.
    in_transaction_ = false;
    if (conn_->Lost()) return Status::Ok();
    auto st = Execute("ROLLBACK");
    if (st.ok() && !dataset_.empty() && !conn_->Lost()) {
      return conn_->Execute("SET search_path TO " + QuoteIdentifier(dataset_));
    }
    return st;
  }

  Status UseDataset(const std::string& dataset) override {
    if (auto st = Reconnected(); !st.ok()) return st;
    if (auto st = EnsureDataset(dataset); !st.ok()) return st;
    if (auto st = conn_->Execute("SET search_path TO " + QuoteIdentifier(dataset)); !st.ok()) return st;
    dataset_ = dataset;
    return Status::Ok();
  }
  Status EnsureDataset(const std::string& dataset) override {
    if (auto st = Reconnected(); !st.ok()) return st;
    return CreateSchemaIfMissing(*conn_, dataset, "the dataset " + dataset);
  }

  // Processes starting at once make the schema one at a time (two CREATE TABLE IF NOT
  // EXISTS racing would fail one of them), with indexes a single writer does not need:
  // one state row per table, guaranteed, and the log and marks found by name (a source
  // has many marks: that index is not unique). CREATE INDEX locks its table even when
  // the index is there, so it would wait for every open transaction that wrote a state
  // row: the catalog is asked first.
  Status CreateMetadataSchema() override {
    // The schema is made here only when missing (schemas.h): the tables' DDL begins with
    // a CREATE SCHEMA IF NOT EXISTS, which would ask for CREATE on the database even
    // when the schema is there.
    constexpr std::string_view kCreateSchema = "CREATE SCHEMA IF NOT EXISTS _derived;";
    std::string ddl(MetadataTablesSql());
    if (size_t at = ddl.find(kCreateSchema); at != std::string::npos) ddl.erase(at, kCreateSchema.size());
    if (auto st = Reconnected(); !st.ok()) return st;
    if (auto st = CreateSchemaIfMissing(*conn_, "_derived", "Derived's metadata"); !st.ok()) return st;
    if (auto st = CheckMetadataSchemaTrusted(*conn_); !st.ok()) return st;
    auto there = Query(
        "SELECT to_regclass('_derived.state_by_table') IS NOT NULL AND to_regclass('_derived.log_by_table') IS NOT "
        "NULL AND to_regclass('_derived.marks_by_source') IS NOT NULL AND to_regclass('_derived.leases') IS NOT NULL AND "
        "to_regclass('_derived.project_versions') IS NOT NULL");
    if (!there.ok()) return there.error();
    if (there->at(0, 0).value_or("f") == "t") return Execute(ddl);
    return InTransaction(*this, [&]() -> Status {
      if (auto st = LockTable("_derived", LockMode::kExclusive); !st.ok()) return st;
      if (auto st = Execute(ddl); !st.ok()) return st;
      if (auto st = Execute(PostgresFleetTablesSql()); !st.ok()) return st;
      if (auto st = RefuseDuplicateStateRows(*conn_); !st.ok()) return st;
      return Execute(
          "CREATE UNIQUE INDEX IF NOT EXISTS state_by_table ON _derived.state (table_name);"
          "CREATE INDEX IF NOT EXISTS log_by_table ON _derived.log (table_name, finished_at);"
          "CREATE INDEX IF NOT EXISTS marks_by_source ON _derived.source_marks (source_name)");
    });
  }

  Status CreateMetadataTables(const std::string& schema) override {
    if (auto st = Reconnected(); !st.ok()) return st;
    if (auto st = CreateSchemaIfMissing(*conn_, schema, "a shadow environment's metadata"); !st.ok()) return st;
    return InTransaction(*this, [&]() -> Status {
      if (auto st = LockTable(schema, LockMode::kExclusive); !st.ok()) return st;
      std::string ddl = MetadataTablesSql(schema);  // less its CREATE SCHEMA, as above
      const std::string create = fmt::format("CREATE SCHEMA IF NOT EXISTS {};", schema);
      if (size_t at = ddl.find(create); at != std::string::npos) ddl.erase(at, create.size());
      if (auto st = Execute(ddl); !st.ok()) return st;
      return Execute(fmt::format("CREATE UNIQUE INDEX IF NOT EXISTS state_by_table ON {0}.state (table_name);"
                                 "CREATE INDEX IF NOT EXISTS log_by_table ON {0}.log (table_name, finished_at)",
                                 schema));
    });
  }

  Result<sql::CheckedSelect> CheckQuery(std::string_view sql) override {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    return (*parser)->CheckSelect(sql);
  }

  Result<std::vector<std::string>> DescribeStorage(const std::string& dataset, const std::string& table) override {
    const std::string name = dialect_.Literal(dialect_.Table(dataset, table));
    std::vector<std::string> out;
    auto parts = Query(
        "SELECT pg_get_partkeydef(c.oid), count(i.inhrelid), count(i.inhrelid) FILTER (WHERE "
        "pg_get_expr(p.relpartbound, p.oid) = 'DEFAULT'), min(pg_get_expr(p.relpartbound, p.oid)) FILTER (WHERE "
        "pg_get_expr(p.relpartbound, p.oid) <> 'DEFAULT'), max(pg_get_expr(p.relpartbound, p.oid)) FILTER (WHERE "
        "pg_get_expr(p.relpartbound, p.oid) <> 'DEFAULT') FROM pg_catalog.pg_class c LEFT JOIN "
        "pg_catalog.pg_inherits i ON i.inhparent = c.oid LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid "
        "WHERE c.oid = to_regclass(" + name + ") AND c.relkind = 'p' GROUP BY c.oid");
    if (!parts.ok()) return parts.error();
    if (parts->size() == 1) {
      int64_t n = std::stoll(parts->at(0, 1).value_or("0")), defaults = std::stoll(parts->at(0, 2).value_or("0"));
      std::string line = fmt::format("partitioned: {}, {} range partition{}{}", parts->at(0, 0).value_or(""),
                                     n - defaults, n - defaults == 1 ? "" : "s", defaults ? " and a default" : "");
      if (parts->at(0, 3)) line += fmt::format(" (first {}, last {})", *parts->at(0, 3), parts->at(0, 4).value_or(""));
      out.push_back(line);
    }
    auto indexes = Query("SELECT pg_get_indexdef(x.indexrelid) FROM pg_catalog.pg_index x WHERE x.indrelid = "
                         "to_regclass(" + name + ") ORDER BY 1");
    if (!indexes.ok()) return indexes.error();
    for (const auto& r : indexes->rows) out.push_back("index: " + r[0].value_or(""));
    return out;
  }

  Result<OpenedScript> OpenScript(std::string_view sql, ScriptAccess access, TimeStyle style) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    PostgresScriptSession session;
    session.conn = conn_.get();
    session.check_select = [this](std::string_view query) -> Status {
      auto checked = CheckQuery(query);
      if (!checked.ok()) return checked.error();
      return Status::Ok();
    };
    session.begin_read_only = [this]() -> Status {
      if (auto st = conn_->Execute("BEGIN TRANSACTION READ ONLY"); !st.ok()) return st;
      in_transaction_ = true;
      return Status::Ok();
    };
    session.rollback = [this] { (void)Rollback(); };
    return OpenPostgresScript(session, sql, access, style);
  }

  Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    int64_t changed = 0;
    return RunEmbedded(query, embedding, &changed);
  }
  Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) override {
    int64_t changed = 0;
    auto rows = RunEmbedded(query, embedding, &changed);
    return Changed(rows, changed);
  }

  Result<std::vector<OutputColumn>> DescribeQuery(const sql::CheckedSelect& query,
                                                  const sql::Embedding& embedding) override {
    if (auto st = CheckEmbedded(query, embedding); !st.ok()) return st.error();
    auto cols = Describe(WithoutDescribe(embedding.Statement(query.text())));
    if (!cols.ok()) return cols;
    // Derived's names are case-insensitive, as DuckDB's are; PostgreSQL keeps the case
    // of a quoted name, which Derived would then miss. Refused, with the way out.
    for (const auto& c : *cols) {
      if (std::any_of(c.name.begin(), c.name.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
        return Error(fmt::format("the query returns a column \"{}\" with upper-case letters: on PostgreSQL give "
                                 "it a lower-case name (AS {})",
                                 c.name, ToLower(c.name)));
      }
    }
    return cols;
  }

  Result<std::vector<OutputColumn>> Describe(std::string_view select) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    auto cols = conn_->Describe(select);
    if (!cols.ok()) return cols.error();
    // Names as the server spells them: it folds unquoted names to lower case and keeps
    // quoted ones ("UserId"), so Derived's quoting of the spelling finds the column.
    std::vector<OutputColumn> out;
    for (const auto& c : *cols) out.push_back({c.name, c.type});
    return out;
  }

  Result<std::string> CanonicalType(const std::string& type) override {
    auto it = canonical_.find(type);
    if (it != canonical_.end()) return it->second;
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    if (auto st = (*parser)->CheckType(type); !st.ok()) return st.error();
    // Inside a transaction a failed describe would abort it: try under a savepoint.
    bool in_tx = conn_->InTransaction();
    if (in_tx) {
      if (auto st = conn_->Execute("SAVEPOINT derived_type"); !st.ok()) return st.error();
    }
    auto cols = Describe("SELECT CAST(NULL AS " + type + ") AS t");
    if (in_tx) (void)conn_->Execute(cols.ok() ? "RELEASE SAVEPOINT derived_type" : "ROLLBACK TO SAVEPOINT derived_type");
    if (!cols.ok() || cols->size() != 1) {
      return Error(fmt::format("unknown type '{}' in PostgreSQL{}", type,
                               cols.ok() ? "" : ": " + Split(cols.error().message, '\n')[0]));
    }
    canonical_[type] = (*cols)[0].type;
    return (*cols)[0].type;
  }

  Result<std::optional<std::vector<OutputColumn>>> Columns(const std::string& dataset,
                                                           const std::string& table) override {
    if (auto st = Reconnected(); !st.ok()) return st.error();
    auto rows = conn_->Query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.oid FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY a.attnum",
        {dataset, table});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<std::vector<OutputColumn>>();
    std::vector<OutputColumn> cols;
    for (const auto& r : rows->rows) {
      if (r[0]) cols.push_back({*r[0], r[1].value_or("")});
    }
    return std::optional<std::vector<OutputColumn>>(std::move(cols));
  }

 private:
  // A lost connection (a server restart, a terminated backend, a network cut) is replaced
  // by a new one before the next statement, but never inside a transaction: what the
  // transaction had done is gone with it, so its statements fail until its rollback.
  // The new session gets the dataset in use back. One attempt per statement: a server
  // that stays away fails the statement, and the caller's retry tries again.
  Status Reconnected() {
    if (!conn_->Lost() || in_transaction_) return Status::Ok();
    auto fresh = pg::Connection::Open(shared_->options);
    if (!fresh.ok()) return Error("the connection to PostgreSQL was lost and cannot be made again: " + fresh.error().message);
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->sessions.erase(conn_.get());
      shared_->sessions.insert(fresh->get());
      conn_ = std::move(*fresh);
    }
    if (!dataset_.empty()) return conn_->Execute("SET search_path TO " + QuoteIdentifier(dataset_));
    return Status::Ok();
  }

  Status CheckEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) {
    auto parser = Parser();
    if (!parser.ok()) return parser.error();
    return (*parser)->CheckEmbedded(embedding.Select(query.text()), query, embedding);
  }

  // The extended query protocol runs exactly one statement: text that would end
  // Derived's statement and start another is refused by the server as well.
  Result<Rows> RunEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding, int64_t* changed) {
    if (auto st = CheckEmbedded(query, embedding); !st.ok()) return st.error();
    if (auto st = Reconnected(); !st.ok()) return st.error();
    const std::string statement = embedding.Statement(query.text());
    return crash::AtStatement(statement, [&] { return conn_->Query(statement, {}, changed); });
  }

  // DuckDB's parser on a database of its own that holds nothing and reads no file.
  Result<sql::SqlParser*> Parser() {
    if (!parser_) {
      db::OpenOptions options;
      options.config = {{"threads", "1"}};
      auto db = db::Database::Open(":memory:", options);
      if (!db.ok()) return db.error();
      parse_db_ = std::move(*db);
      auto conn = db::Connection::Open(*parse_db_);
      if (!conn.ok()) return conn.error();
      parse_conn_ = std::move(*conn);
      auto p = sql::SqlParser::Create(parse_conn_.get());
      if (!p.ok()) return p.error();
      parser_ = std::move(*p);
    }
    return parser_.get();
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<pg::Connection> conn_;
  PostgresDialect dialect_;
  PostgresTableWriter writer_{*this};
  std::map<std::string, std::string> canonical_;
  std::string dataset_;  // the last UseDataset
  bool in_transaction_ = false;  // between Begin and its Commit or Rollback
  std::unique_ptr<Coordination> coordination_;  // made on first use, over conn_
  // Declared in this order so the parser goes before its connection, and that before
  // its database.
  std::unique_ptr<db::Database> parse_db_;
  std::unique_ptr<db::Connection> parse_conn_;
  std::unique_ptr<sql::SqlParser> parser_;
};

}  // namespace

Result<pg::ConnectOptions> PostgresConnectOptions(const std::string& dsn) {
  auto parsed = pg::ParseConnectionString(dsn);
  if (!parsed.ok()) return Error("warehouse.dsn: " + parsed.error().message);
  for (auto& [keyword, value] : parsed->options) {
    bool whole_reference = value.size() > 3 && value.rfind("${", 0) == 0 && value.find('}') == value.size() - 1;
    // A client key's passphrase is as secret as a password.
    if ((keyword == "password" || keyword == "sslpassword") && !whole_reference) {
      return Error(
          "warehouse.dsn must not hold a password (project files are shared in git): set PGPASSWORD, use ~/.pgpass "
          "or a PGSERVICE file, or write password=${NAME} to take it from the environment variable NAME");
    }
    auto expanded = ExpandEnvironment(value, "warehouse.dsn (" + keyword + ")");
    if (!expanded.ok()) return expanded.error();
    value = std::move(*expanded);
  }
  return std::move(*parsed);
}

Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const pg::ConnectOptions& options) {
  auto shared = std::make_shared<Shared>();
  shared->options = options;
  auto wh = PostgresWarehouse::OpenSession(shared);
  if (!wh.ok()) return wh.error();
  auto conn = pg::Connection::Open(options);
  if (!conn.ok()) return conn.error();
  if (auto st = EnsureFunctions(**conn); !st.ok()) {
    return Error("cannot prepare the PostgreSQL warehouse: " + st.error().message);
  }
  return wh;
}

}  // namespace derived
