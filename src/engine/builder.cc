#include "engine/builder.h"

#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "check/typecheck.h"
#include "crash/crash_point.h"
#include "engine/audit.h"
#include "util/hash.h"
#include "util/strings.h"

namespace derived {
namespace {

// Table and column descriptions as engine comments, so catalog tools show them. With
// `clear`, an empty description removes an earlier comment.
Status DescribeTable(Warehouse& wh, const TableDef& def, bool clear) {
  const SqlDialect& d = wh.dialect();
  std::string table = d.Table(def.dataset, def.name);
  auto text = [&](const std::string& s) { return s.empty() ? std::string("NULL") : d.Literal(s); };
  std::string sql;
  const char* kind = def.strategy == Strategy::kView ? "VIEW" : "TABLE";
  if (clear || !def.description.empty()) {
    sql += fmt::format("COMMENT ON {} {} IS {};", kind, table, text(def.description));
  }
  for (const auto& c : def.columns) {
    if (!clear && c.description.empty()) continue;
    sql += fmt::format("COMMENT ON COLUMN {}.{} IS {};", table, d.Ident(c.name), text(c.description));
  }
  return sql.empty() ? Status::Ok() : wh.Execute(sql);
}


// Errors raised inside a statement by its own guards, recognised to explain them.
const char* kOutsideWindow = "derived: row outside the window";
const char* kNullKey = "derived: NULL merge key";
const char* kCombinedTable = "__derived_combined";
const char* kStagingPrefix = "__derived_new_";

std::string WindowText(Window w) { return fmt::format("[{}, {})", FormatIso(w.start), FormatIso(w.end)); }

// A failure that is a failed data test rather than an engine error.
struct Failure {
  std::string status = "failed";
  std::string error;
  nlohmann::json details;
  std::optional<Window> window;
};

class TableBuilder {
 public:
  TableBuilder(BuildContext& ctx, const BuildRequest& req)
      : ctx_(ctx), req_(req), wh_(*ctx.wh), d_(wh_.dialect()), def_(ctx.cp->def(*req.table)) {
    result_.state = req.state.value_or(TableState{});
    result_.state.table = def_.qualified_name();
    for (const auto& up : req.upstream) inputs_[up.name] = up.Snapshot();
  }

  BuildResult Run() {
    const Plan& plan = req_.plan;
    total_windows_ = 0;
    for (const auto& b : plan.batches) total_windows_ += b.windows;
    bool ok = true;
    if (def_.strategy == Strategy::kView) {
      ok = RunView();
    } else if (plan.action == Action::kReplace) {
      ok = RunReplace();
    } else if (plan.action == Action::kRebuild) {
      ok = RunRebuild();
    } else {
      ok = RunBatches();
    }
    result_.status = ok ? "success" : failure_.status;
    result_.error = ok ? "" : failure_.error;
    return result_;
  }

 private:
  std::string Operation() const {
    if (req_.backfill && req_.plan.action != Action::kTest) return "backfill";
    switch (req_.plan.action) {
      case Action::kCreate: return "create";
      case Action::kRebuild: return "rebuild";
      case Action::kReplace: return "replace";
      case Action::kTest: return "test";
      default: return std::string(StrategyName(def_.strategy));
    }
  }

  std::string Target() const { return d_.Table(def_.dataset, def_.name); }
  std::string Staging() const { return d_.Table(def_.dataset, kStagingPrefix + def_.name); }
  // A statement holding the batch's query (checked by Prepare) as the subquery q: the only
  // way the builder puts it in SQL (sql/embed.h). `head` + `before` + q + `after`.
  static sql::Embedding AsQ(std::string before, std::string after, std::string head = "",
                            db::StatementType type = db::StatementType::kSelect) {
    return sql::Embedding::Subquery(std::move(before), "q", std::move(after), std::move(head), type);
  }

  struct Counts {
    int64_t inserted = 0, updated = 0, deleted = 0;
  };
  // A committed range of windows (none for a view) and what writing it did: one log row.
  struct Written {
    std::optional<Window> window;
    Counts counts;
  };

  // --- flows -----------------------------------------------------------------------

  // Append and merge, batch by batch, each committed on its own: a crash keeps what
  // committed, and the next run carries on from the watermark.
  bool RunBatches() {
    for (const auto& b : req_.plan.batches) {
      if (ctx_.cancel && ctx_.cancel->load()) break;  // the rest waits for the next start
      crash::Scope scope(StrategyName(def_.strategy));
      double started = WallSeconds();
      std::vector<Written> written = {{b.write, {}}};
      Status st = InTransaction(wh_, [&]() -> Status {
        bool exists = target_checked_;  // a committed batch created it
        if (!exists) {
          auto found = TargetExists();
          if (!found.ok()) return found.error();
          exists = *found;
        }
        if (auto s = WriteBatch(b, Target(), exists, &written[0].counts); !s.ok()) return Explain(s, b);
        if (auto s = Audit(Target()); !s.ok()) return s;
        return Publish(Next({b.write}), written, started);
      });
      if (!st.ok()) return Fail(st, b.write, started);
      Committed(written, b.windows);
    }
    return true;
  }

  // A new version built from scratch in one transaction and swapped in, so readers see
  // the old version until the new one is complete and tested.
  bool RunRebuild() {
    crash::Scope scope("rebuild");
    double started = WallSeconds();
    std::vector<Written> written;
    std::optional<Window> current;
    int windows = 0;
    int64_t rows = 0;
    Status st = InTransaction(wh_, [&]() -> Status {
      if (auto s = wh_.Execute("DROP TABLE IF EXISTS " + Staging()); !s.ok()) return s;
      for (const auto& b : req_.plan.batches) {
        current = b.write;
        Written w{b.write, {}};
        if (auto s = WriteBatch(b, Staging(), !written.empty(), &w.counts); !s.ok()) return Explain(s, b);
        written.push_back(w);
        windows += b.windows;
        rows += w.counts.inserted + w.counts.updated;
        ReportProgress(windows, rows);
      }
      current.reset();
      auto old_rows = SwapIn();
      if (!old_rows.ok()) return old_rows.error();
      written.front().counts.deleted = *old_rows;
      if (auto s = Audit(Target()); !s.ok()) return s;
      std::vector<Window> windows;
      for (const auto& w : written) windows.push_back(*w.window);
      return Publish(Next(windows), written, started);
    });
    if (!st.ok()) return Fail(st, current, started);
    Committed(written, windows);
    return true;
  }

  bool RunReplace() {
    crash::Scope scope("replace");
    const auto& b = req_.plan.batches.at(0);
    double started = WallSeconds();
    std::vector<Written> written = {{b.write, {}}};
    Status st = InTransaction(wh_, [&]() -> Status {
      if (auto s = wh_.Execute("DROP TABLE IF EXISTS " + Staging()); !s.ok()) return s;
      std::vector<OutputColumn> cols;
      if (auto s = Prepare(b, &cols); !s.ok()) return s;
      const sql::Embedding create = AsQ(fmt::format("SELECT {} FROM ", SelectList(cols)), OrderBy(),
                                        fmt::format("CREATE TABLE {} AS ", Staging()), db::StatementType::kCreate);
      auto created = wh_.QueryEmbedded(*query_, create);
      if (!created.ok()) return QueryFailed(created.error(), create.QueryLine());
      auto new_rows = CountRows(Staging());
      if (!new_rows.ok()) return new_rows.error();
      auto old_rows = SwapIn();
      if (!old_rows.ok()) return old_rows.error();
      written[0].counts.inserted = *new_rows;
      written[0].counts.deleted = *old_rows;
      if (auto s = Audit(Target()); !s.ok()) return s;
      return Publish(Next({b.write}), written, started);
    });
    if (!st.ok()) return Fail(st, b.write, started);
    Committed(written, b.windows);
    return true;
  }

  // A view is created (or, for a new definition, re-created atomically) and its tests run
  // on it, in one transaction; as its inputs advance only its tests run again. Nothing is
  // stored but its definition, so a failed test leaves the last good view in place.
  bool RunView() {
    crash::Scope scope("view");
    double started = WallSeconds();
    std::vector<Written> written = {{std::nullopt, {}}};
    Status st = InTransaction(wh_, [&]() -> Status {
      if (req_.plan.action != Action::kTest) {
        std::vector<OutputColumn> cols;
        derived::Batch b;
        b.read = b.write = req_.table->window;
        if (auto s = Prepare(b, &cols); !s.ok()) return s;
        const sql::Embedding create = AsQ(fmt::format("SELECT {} FROM ", SelectList(cols)), "",
                                          fmt::format("CREATE OR REPLACE VIEW {} AS ", Target()),
                                          db::StatementType::kCreate);
        auto created = wh_.QueryEmbedded(*query_, create);
        if (!created.ok()) return QueryFailed(created.error(), create.QueryLine());
        if (auto s = Describe(); !s.ok()) return s;
      }
      if (auto s = Audit(Target()); !s.ok()) return s;
      return Publish(Next({}), written, started);
    });
    if (!st.ok()) return Fail(st, std::nullopt, started);
    Committed(written, 0);
    return true;
  }

  // Inside a step's transaction: its log rows and the table's new state, which becomes
  // the builder's own only once the transaction commits (see Committed).
  Status Publish(TableState next, const std::vector<Written>& written, double started) {
    Finish(&next);
    for (const auto& w : written) {
      if (auto s = ctx_.meta->AppendLog(Entry(w.window, w.counts, started)); !s.ok()) return s;
    }
    if (auto s = ctx_.meta->SaveState(next); !s.ok()) return s;
    pending_state_ = std::move(next);
    return Status::Ok();
  }

  void Committed(const std::vector<Written>& written, int windows) {
    result_.state = pending_state_;
    for (const auto& w : written) {
      result_.inserted += w.counts.inserted;
      result_.updated += w.counts.updated;
      result_.deleted += w.counts.deleted;
    }
    result_.windows += windows;
    ReportProgress(result_.windows, result_.inserted + result_.updated);
  }

  // --- steps -----------------------------------------------------------------------

  Result<bool> TargetExists() {
    auto cols = wh_.Columns(def_.dataset, def_.name);
    if (!cols.ok()) return cols.error();
    return cols->has_value();
  }

  Result<int64_t> CountRows(const std::string& table) {
    auto n = wh_.Query("SELECT count(*) FROM " + table);
    if (!n.ok()) return n.error();
    return static_cast<int64_t>(std::stoll(n->at(0, 0).value_or("0")));
  }

  // Renders the batch's query and learns its columns without running it, checking
  // them against the declaration before anything is written.
  Status Prepare(const derived::Batch& b, std::vector<OutputColumn>* cols) {
    auto rendered = ctx_.cp->RenderMapped(*req_.table, b.read, b.initial);
    if (!rendered.ok()) return Error(rendered.error().ToString());
    rendered_ = std::move(*rendered);
    // Rendered for this batch's window, so checked again: validate saw one window only.
    auto checked = wh_.CheckQuery(rendered_->sql());
    if (!checked.ok()) return QueryRefused(checked.error());
    query_ = std::move(*checked);
    // Later batches of one build have the same columns: bind and check once.
    if (!columns_) {
      if (auto s = wh_.UseDataset(def_.dataset); !s.ok()) return s;
      auto described = wh_.DescribeQuery(*query_);
      if (!described.ok()) return QueryFailed(described.error(), sql::Embedding::Describe().QueryLine());
      if (auto s = CheckColumns(*described); !s.ok()) return s;
      columns_ = std::move(*described);
    }
    *cols = *columns_;
    return Status::Ok();
  }

  // The batch's rendering when it is not one SELECT (a template that writes another
  // statement for some windows only), pointed at the template line that wrote it.
  Status QueryRefused(const Error& e) const {
    std::string why = e.where.line > 0 ? "invalid SQL: " + e.message : e.message;
    Location at{def_.sql.file, def_.sql.first_line, 0};
    std::string note;
    if (e.where.line > 0 && rendered_) {
      // The position counts in the rendering without its leading space (as Trim drops it).
      std::string_view sql = rendered_->sql();
      size_t start = std::min(sql.find_first_not_of(" \t\n\v\f\r"), sql.size());
      size_t offset = start + OffsetOfLineColumn(sql.substr(start), e.where.line, e.where.column);
      SqlOrigin o = rendered_->OriginAt(offset);
      at = o.where;
      note = o.Note();
    }
    return Error(fmt::format("{}: the query was not run: {}{}", at.ToString(), why, note), at);
  }

  // An engine error about a statement embedding the query (beginning on line
  // `query_line`: sql::Embedding::QueryLine), pointed at the template line that wrote it.
  Status QueryFailed(const Status& st, int query_line = 2) const {
    const std::string& msg = st.error().message;
    if (rendered_) {
      if (auto o = rendered_->LocateEngineError(msg, query_line, RenderedSql::Embedding::kStripped)) {
        return Error(fmt::format("{}: the query failed: {}{}", o->where.ToString(), WithoutEngineExcerpt(msg),
                                 o->Note()),
                     o->where);
      }
    }
    return Error(fmt::format("{}: the query failed: {}", def_.sql.file, msg));
  }

  // Turns a guard's error into a message that says what was wrong, counting the rows.
  // Runs after the failed statement, so it only reads.
  Status Explain(const Status& st, const derived::Batch& b) {
    const std::string& msg = st.error().message;
    if (msg.find(kOutsideWindow) != std::string::npos) {
      (void)wh_.Rollback();  // the transaction is aborted; read outside it
      std::string tc = d_.Ident(def_.time_column);
      auto outside = wh_.QueryEmbedded(
          *query_, AsQ(fmt::format("SELECT count(*), min({0}), max({0}) FROM ", tc), " WHERE " + OutsideWindow(b.write)));
      std::string count = "some", range;
      if (outside.ok()) {
        count = outside->at(0, 0).value_or("?");
        range = fmt::format(" (from {} to {})", outside->at(0, 1).value_or("NULL"), outside->at(0, 2).value_or("NULL"));
      }
      return Error(fmt::format("{}: the query returned {} row{} whose time_column '{}' is outside the window {}{}; an "
                               "append table's query must only return rows of the window it builds: filter on "
                               "{{{{ window_start }}}} and {{{{ window_end }}}}",
                               def_.file, count, count == "1" ? "" : "s", def_.time_column, WindowText(b.write), range));
    }
    if (msg.find(kNullKey) != std::string::npos) {
      (void)wh_.Rollback();
      std::vector<std::string> conds;
      for (const auto& k : QuotedKeys()) conds.push_back(k + " IS NULL");
      auto n = wh_.QueryEmbedded(*query_, AsQ("SELECT count(*) FROM ", " WHERE " + Join(conds, " OR ")));
      return Error(fmt::format("{}: the query returned {} row(s) with a NULL merge key ({})", def_.file,
                               n.ok() ? n->at(0, 0).value_or("?") : "some", Join(def_.merge.keys, ", ")));
    }
    return st;
  }

  std::string OutsideWindow(Window w) const {
    std::string tc = d_.Ident(def_.time_column);
    return fmt::format("{0} IS NULL OR {0} < {1} OR {0} >= {2}", tc, d_.TimestampLiteral(w.start),
                       d_.TimestampLiteral(w.end));
  }

  // Declared columns against what the query really returned, before anything is written.
  Status CheckColumns(const std::vector<OutputColumn>& cols) {
    std::vector<std::string> problems, names;
    for (const auto& c : cols) names.push_back(c.name);
    auto find = [&](const std::string& name) -> const OutputColumn* {
      for (const auto& c : cols)
        if (c.name == name) return &c;
      return nullptr;
    };
    for (const auto& dc : def_.columns) {
      const OutputColumn* c = find(dc.name);
      if (!c) {
        problems.push_back(fmt::format("declared column '{}' is not returned by the query{}", dc.name,
                                       DidYouMean(dc.name, names)));
        continue;
      }
      if (dc.type.empty()) continue;
      auto declared = wh_.CanonicalType(dc.type);
      if (!declared.ok()) {
        problems.push_back(fmt::format("column '{}': {}", dc.name, declared.error().message));
        continue;
      }
      declared_types_[dc.name] = *declared;
      if (!TypeFits(*declared, c->type)) {
        problems.push_back(fmt::format("column '{}' is declared {} but the query returns {}", dc.name, *declared,
                                       c->type));
      }
    }
    auto require = [&](const std::string& name, const char* what) {
      if (!name.empty() && !find(name)) {
        problems.push_back(fmt::format("{} '{}' is not returned by the query", what, name));
      }
    };
    require(def_.time_column, "time_column");
    for (const auto& k : def_.merge.keys) require(k, "merge key");
    if (problems.empty()) return Status::Ok();
    return Error(fmt::format("{}: {}", def_.file, Join(problems, "; ")));
  }

  // The batch's columns, cast to their declared types in the engine's spelling (checked
  // by CheckColumns, never the declaration's own text).
  std::string SelectList(const std::vector<OutputColumn>& cols) const {
    std::vector<std::string> out;
    for (const auto& c : cols) {
      auto it = declared_types_.find(c.name);
      out.push_back(it == declared_types_.end() ? d_.Ident(c.name)
                                                : fmt::format("CAST({0} AS {1}) AS {0}", d_.Ident(c.name), it->second));
    }
    return Join(out, ", ");
  }

  std::string ColumnNames(const std::vector<OutputColumn>& cols, const std::string& prefix = "") const {
    std::vector<std::string> out;
    for (const auto& c : cols) out.push_back(prefix + d_.Ident(c.name));
    return Join(out, ", ");
  }

  // cluster_by orders inserted rows so the engine's zone maps can prune on it.
  std::string OrderBy() const {
    if (def_.cluster_by.empty()) return "";
    std::vector<std::string> cols;
    for (const auto& c : def_.cluster_by) cols.push_back(d_.Ident(c));
    return " ORDER BY " + Join(cols, ", ");
  }

  Status WriteBatch(const derived::Batch& b, const std::string& target, bool exists, Counts* c) {
    std::vector<OutputColumn> cols;
    if (auto s = Prepare(b, &cols); !s.ok()) return s;
    // A merge table has the shape of the combined batch (a `count` column counts).
    bool merge = def_.strategy == Strategy::kMerge;
    if (merge) {
      if (auto s = CombineBatch(cols); !s.ok()) return s;
    }
    if (!exists) {
      // Explicit DDL, not `CREATE TABLE AS ... LIMIT 0`: DuckDB commits every later
      // append to a table made that way several times slower.
      const sql::Embedding describe = AsQ(fmt::format("DESCRIBE SELECT {} FROM ", SelectList(cols)), "");
      auto shape = merge ? wh_.Describe("SELECT * FROM " + d_.TempTable(kCombinedTable))
                         : wh_.DescribeQuery(*query_, describe);
      if (!shape.ok()) return QueryFailed(shape.error(), describe.QueryLine());
      std::vector<std::string> defs;
      for (const auto& col : *shape) defs.push_back(d_.Ident(col.name) + " " + col.type);
      auto st = wh_.Execute(fmt::format("CREATE TABLE {} ({})", target, Join(defs, ", ")));
      if (!st.ok()) return QueryFailed(st);
    } else if (!target_checked_) {
      if (auto s = CheckTargetColumns(target, cols); !s.ok()) return s;
    }
    target_checked_ = true;
    return merge ? MergeInto(target, cols, c) : AppendInto(target, b, cols, c);
  }

  Status CheckTargetColumns(const std::string& target, const std::vector<OutputColumn>& cols) {
    bool staging = target == Staging();
    auto existing = wh_.Columns(def_.dataset, staging ? kStagingPrefix + def_.name : def_.name);
    if (!existing.ok()) return existing.error();
    std::set<std::string> have, want;
    for (const auto& c : existing->value_or(std::vector<OutputColumn>{})) have.insert(c.name);
    for (const auto& c : cols) want.insert(c.name);
    if (have == want) return Status::Ok();
    return Error(fmt::format("{}: the query returns columns ({}) but the table has ({}); change the definition so "
                             "that it is rebuilt",
                             def_.file, Join({want.begin(), want.end()}, ", "), Join({have.begin(), have.end()}, ", ")));
  }

  Status AppendInto(const std::string& target, const derived::Batch& b, const std::vector<OutputColumn>& cols,
                    Counts* c) {
    std::string tc = d_.Ident(def_.time_column);
    std::string lo = d_.TimestampLiteral(b.write.start), hi = d_.TimestampLiteral(b.write.end);
    // A window never built holds no rows (append only ever writes rows of its windows),
    // so only a rebuilt window needs its old rows deleted.
    Result<int64_t> deleted = int64_t{0};
    if (target != Staging() && (req_.backfill || result_.state.completed.Intersects(b.write))) {
      deleted = wh_.ExecuteCount(fmt::format("DELETE FROM {0} WHERE {1} >= {2} AND {1} < {3}", target, tc, lo, hi));
      if (!deleted.ok()) return deleted.error();
    }
    // Rows outside the window would survive a re-run of it: the guard refuses them
    // while the rows stream in, with no second pass over the batch.
    const sql::Embedding insert =
        AsQ(fmt::format("SELECT {} FROM ", SelectList(cols)),
            fmt::format(" WHERE CASE WHEN {} THEN error({}) ELSE true END{}", OutsideWindow(b.write),
                        d_.Literal(kOutsideWindow), OrderBy()),
            fmt::format("INSERT INTO {} ({}) ", target, ColumnNames(cols)), db::StatementType::kInsert);
    auto inserted = wh_.ExecuteEmbeddedCount(*query_, insert);
    if (!inserted.ok()) return inserted.error().message.find(kOutsideWindow) != std::string::npos
                                  ? inserted.error()
                                  : QueryFailed(inserted.error(), insert.QueryLine());
    c->deleted += *deleted;
    c->inserted += *inserted;
    return Status::Ok();
  }

  std::vector<std::string> QuotedKeys() const {
    std::vector<std::string> keys;
    for (const auto& k : def_.merge.keys) keys.push_back(d_.Ident(k));
    return keys;
  }

  // Rows of one key inside the batch, combined by the merge rules into one row.
  Status CombineBatch(const std::vector<OutputColumn>& cols) {
    std::vector<std::string> keys = QuotedKeys(), null_conds;
    for (const auto& k : keys) null_conds.push_back(k + " IS NULL");
    std::set<std::string> key_set(def_.merge.keys.begin(), def_.merge.keys.end());
    std::string tc = d_.Ident(def_.time_column);
    std::vector<std::string> aggs = keys;
    for (const auto& col : cols) {
      if (key_set.count(col.name)) continue;
      std::string q = d_.Ident(col.name);
      aggs.push_back(d_.BatchAggregate(RuleOf(col.name), q, tc) + " AS " + q);
    }
    if (auto st = wh_.Execute("DROP TABLE IF EXISTS " + d_.TempTable(kCombinedTable)); !st.ok()) return st;
    const sql::Embedding combine =
        AsQ(fmt::format("SELECT {} FROM (SELECT {} FROM ", Join(aggs, ", "), SelectList(cols)),
            fmt::format(" WHERE CASE WHEN {} THEN error({}) ELSE true END) AS src GROUP BY {}",
                        Join(null_conds, " OR "), d_.Literal(kNullKey), Join(keys, ", ")),
            fmt::format("CREATE TEMPORARY TABLE {} AS ", d_.Ident(kCombinedTable)), db::StatementType::kCreate);
    auto made = wh_.QueryEmbedded(*query_, combine);
    if (!made.ok() && made.error().message.find(kNullKey) == std::string::npos) {
      return QueryFailed(made.error(), combine.QueryLine());
    }
    return made.ok() ? Status::Ok() : Status(made.error());
  }

  MergeRule RuleOf(const std::string& column) const {
    auto it = def_.merge.rules.find(column);
    return it == def_.merge.rules.end() ? MergeRule::kLatest : it->second;
  }

  // Upserts the combined batch: matching keys by the rules, new keys inserted.
  Status MergeInto(const std::string& target, const std::vector<OutputColumn>& cols, Counts* c) {
    std::set<std::string> key_set(def_.merge.keys.begin(), def_.merge.keys.end());
    std::vector<std::string> key_conds, sets;
    for (const auto& k : QuotedKeys()) key_conds.push_back(fmt::format("t.{0} = b.{0}", k));
    std::string tc = d_.Ident(def_.time_column);
    for (const auto& col : cols) {
      if (key_set.count(col.name)) continue;
      std::string q = d_.Ident(col.name);
      sets.push_back(q + " = " + d_.MergeExpression(RuleOf(col.name), q, tc));
    }
    std::string combined = d_.TempTable(kCombinedTable);
    std::string match = Join(key_conds, " AND ");
    if (!sets.empty()) {
      auto updated = wh_.ExecuteCount(fmt::format("UPDATE {} AS t SET {} FROM {} AS b WHERE {}", target,
                                                  Join(sets, ", "), combined, match));
      if (!updated.ok()) return updated.error();
      c->updated += *updated;
    }
    auto inserted = wh_.ExecuteCount(
        fmt::format("INSERT INTO {0} ({1}) SELECT {2} FROM {3} AS b WHERE NOT EXISTS (SELECT 1 FROM {0} AS t WHERE "
                    "{4}){5}",
                    target, ColumnNames(cols), ColumnNames(cols, "b."), combined, match, OrderBy()));
    if (!inserted.ok()) return inserted.error();
    c->inserted += *inserted;
    return Status::Ok();
  }

  // Drops the old version and renames the staging table into its place. Returns the
  // old version's row count.
  Result<int64_t> SwapIn() {
    crash::Scope scope("swap");
    auto exists = TargetExists();
    if (!exists.ok()) return exists.error();
    int64_t old_rows = 0;
    if (*exists) {
      auto n = CountRows(Target());
      if (!n.ok()) return n.error();
      old_rows = *n;
      if (auto s = wh_.Execute("DROP TABLE " + Target()); !s.ok()) return s.error();
    }
    if (auto s = wh_.Execute(fmt::format("ALTER TABLE {} RENAME TO {}", Staging(), d_.Ident(def_.name))); !s.ok()) {
      return s.error();
    }
    if (auto s = Describe(); !s.ok()) return s.error();
    return old_rows;
  }

  Status Describe() { return DescribeTable(wh_, def_, /*clear=*/false); }

  Status Audit(const std::string& table) {
    if (def_.tests.empty()) return Status::Ok();
    Window window = req_.plan.batches.empty() ? Window{} : Window{req_.plan.batches.front().read.start,
                                                                  req_.plan.batches.back().read.end};
    auto failures = RunDataTests(wh_, def_, table, [&](const TestDef& t) {
      return ctx_.cp->RenderText(*req_.table, t.sql, t.where, window);
    });
    if (!failures.ok()) {
      const Location& at = failures.error().where;
      return Error(fmt::format("{}: {}", at.file.empty() ? def_.file : at.ToString(), failures.error().message));
    }
    if (failures->empty()) return Status::Ok();
    std::vector<std::string> lines;
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& f : *failures) {
      lines.push_back(f.summary);
      tests.push_back({{"test", f.name}, {"offending", f.offending}, {"samples", f.samples}});
    }
    failure_.status = "test_failed";
    failure_.details = {{"tests", tests}};
    return Error(fmt::format("{}: {}", def_.file, Join(lines, "; ")));
  }

  // The state once these windows of the plan commit (see StateAfter).
  TableState Next(const std::vector<Window>& written) const {
    return StateAfter(def_, result_.state, req_.plan, written, req_.definition_hash, inputs_);
  }

  void Finish(TableState* next) const {
    next->last_status = "success";
    next->last_error.clear();
    next->last_run_id = ctx_.run_id;
    next->consecutive_failures = 0;
    next->config = {{"strategy", StrategyName(def_.strategy)},
                    {"schedule", ScheduleName(def_.schedule)},
                    {"time_column", def_.time_column},
                    {"partition_by", def_.partition_by},
                    {"cluster_by", def_.cluster_by},
                    {"file", def_.file},
                    {"metadata_hash", MetadataHash(def_)}};
  }

  LogEntry Entry(std::optional<Window> w, const Counts& c, double started) const {
    LogEntry e;
    e.run_id = ctx_.run_id;
    e.table = def_.qualified_name();
    e.definition_hash = req_.definition_hash;
    e.operation = Operation();
    e.window = w;
    e.rows_inserted = c.inserted;
    e.rows_updated = c.updated;
    e.rows_deleted = c.deleted;
    e.inputs = inputs_;
    e.started_at = started;
    e.finished_at = WallSeconds();
    e.logical_now = ctx_.now;
    e.status = "success";
    if (!req_.plan.reason.empty()) e.details = {{"reason", req_.plan.reason}};  // why it rebuilt, say
    return e;
  }

  // Records a failed attempt after its rollback: the log row and the table's status.
  bool Fail(const Status& st, std::optional<Window> w, double started) {
    failure_.error = st.error().message;
    LogEntry e = Entry(w, {}, started);
    e.status = failure_.status;
    e.error = failure_.error;
    e.details = failure_.details;
    Status logged = ctx_.meta->RecordFailure(e, &result_.state);
    if (!logged.ok()) failure_.error += " (and the failure could not be logged: " + logged.error().message + ")";
    return false;
  }

  void ReportProgress(int windows_done, int64_t rows) {
    if (!ctx_.on_progress) return;
    BuildProgress p;
    p.table = def_.qualified_name();
    p.windows_done = windows_done;
    p.windows_total = total_windows_;
    p.rows = rows;
    ctx_.on_progress(p);
  }

  BuildContext& ctx_;
  const BuildRequest& req_;
  Warehouse& wh_;
  const SqlDialect& d_;
  const TableDef& def_;
  nlohmann::json inputs_ = nlohmann::json::object();
  BuildResult result_;
  TableState pending_state_;
  Failure failure_;
  int total_windows_ = 0;
  std::optional<RenderedSql> rendered_;       // the batch being written, rendered with its origins
  std::optional<sql::CheckedSelect> query_;  // ... and checked to be one SELECT
  bool target_checked_ = false;  // the existing table's columns were compared once
  std::optional<std::vector<OutputColumn>> columns_;  // the query's, checked
  std::map<std::string, std::string> declared_types_;  // column -> canonical declared type
  int progress_windows_ = 0;
  int64_t progress_rows_ = 0;
};

}  // namespace

BuildResult Build(BuildContext& ctx, const BuildRequest& req) { return TableBuilder(ctx, req).Run(); }

std::string DefinitionHash(const TableDef& def, const std::string& sql, const std::string& initial_sql) {
  Hasher h;
  h.Add("definition-v1").Add(StrategyName(def.strategy)).Add(ScheduleName(def.schedule));
  h.Add(FormatDuration(def.window)).Add(def.start ? FormatIso(*def.start) : "-").Add(def.time_column);
  for (const auto& k : def.merge.keys) h.Add("key").Add(k);
  for (const auto& [col, rule] : def.merge.rules) h.Add("rule").Add(col).Add(MergeRuleName(rule));
  for (const auto& c : def.columns) h.Add("col").Add(c.name).Add(c.type);
  for (const auto& c : def.partition_by) h.Add("part").Add(c);
  for (const auto& c : def.cluster_by) h.Add("clus").Add(c);
  h.Add(sql).Add(initial_sql);
  return h.Hex();
}

std::string MetadataHash(const TableDef& def) {
  Hasher h;
  h.Add("metadata-v1").Add(def.description).Add(def.owner);
  for (const auto& t : def.tags) h.Add("tag").Add(t);
  for (const auto& c : def.columns) h.Add("col").Add(c.name).Add(c.description).Add(Join(c.tags, ","));
  for (const auto& t : def.tests) {
    h.Add("test").Add(t.name).Add(TestKindName(t.kind)).Add(Join(t.columns, ",")).Add(Join(t.values, ","));
    h.Add(t.to_table).Add(t.to_column).Add(t.sql);
    h.Add(t.min_rows ? std::to_string(*t.min_rows) : "-").Add(t.max_rows ? std::to_string(*t.max_rows) : "-");
  }
  return h.Hex();
}

Result<TableState> UpdateMetadata(BuildContext& ctx, const TableDef& def, const TableState& state,
                                  const std::string& metadata_hash) {
  crash::Scope crash_scope("metadata");
  TableState next = state;
  next.config["metadata_hash"] = metadata_hash;
  LogEntry e;
  e.run_id = ctx.run_id;
  e.table = def.qualified_name();
  e.definition_hash = state.definition_hash;
  e.operation = "metadata";
  e.started_at = WallSeconds();
  e.logical_now = ctx.now;
  e.status = "success";
  e.details = {{"description", def.description}, {"owner", def.owner}, {"tags", def.tags}};
  Status st = InTransaction(*ctx.wh, [&]() -> Status {
    if (auto s = DescribeTable(*ctx.wh, def, /*clear=*/true); !s.ok()) return s;
    e.finished_at = WallSeconds();
    if (auto s = ctx.meta->AppendLog(e); !s.ok()) return s;
    return ctx.meta->SaveState(next);
  });
  if (!st.ok()) return Error(fmt::format("{}: cannot update the metadata of {}: {}", def.file, def.qualified_name(),
                                         st.error().message));
  return next;
}

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
}

}  // namespace derived
