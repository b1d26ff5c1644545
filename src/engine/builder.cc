#include "engine/builder.h"


#include <fmt/format.h>

#include "compile/typecheck.h"
#include "crash/crash_point.h"
#include "engine/audit.h"
#include "engine/column_check.h"
#include "engine/query_errors.h"
#include "util/strings.h"

namespace derived {
namespace {

// How the step that failed ended: an engine error, or failed data tests (with details).
struct Failure {
  RunStatus status = RunStatus::kFailed;
  std::string error;
  nlohmann::json details;
};

class TableBuilder {
 public:
  TableBuilder(BuildContext& ctx, const BuildRequest& req)
      : ctx_(ctx), req_(req), wh_(*ctx.wh), writer_(wh_.writer()), def_(ctx.cp->def(*req.table)) {
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
    result_.status = ok ? RunStatus::kSuccess : failure_.status;
    result_.error = ok ? "" : failure_.error;
    return result_;
  }

 private:
  // A committed range of windows (none for a view) and what writing it did: one log row.
  struct Written {
    std::optional<Window> window;
    WriteCounts counts;
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
        if (auto s = Claim(); !s.ok()) return s;
      if (auto s = PinLookups(); !s.ok()) return s;
        bool exists = target_checked_;  // a committed batch created it
        if (!exists) {
          auto found = TargetExists();
          if (!found.ok()) return found.error();
          exists = *found;
        }
        if (auto s = WriteBatch(b, Into::kTable, exists, &written[0].counts); !s.ok()) return s;
        if (auto s = Audit(); !s.ok()) return s;
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
      if (auto s = Claim(); !s.ok()) return s;
      if (auto s = PinLookups(); !s.ok()) return s;
      if (auto s = writer_.DropStaging(def_); !s.ok()) return s;
      for (const auto& b : req_.plan.batches) {
        current = b.write;
        Written w{b.write, {}};
        if (auto s = WriteBatch(b, Into::kStaging, !written.empty(), &w.counts); !s.ok()) return s;
        written.push_back(w);
        windows += b.windows;
        rows += w.counts.inserted + w.counts.updated;
        ReportProgress(windows, rows);
      }
      current.reset();
      auto old_rows = writer_.SwapIn(def_, req_.own_views);
      if (!old_rows.ok()) return old_rows.error();
      written.front().counts.deleted = *old_rows;
      if (auto s = Audit(); !s.ok()) return s;
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
      if (auto s = Claim(); !s.ok()) return s;
      if (auto s = PinLookups(); !s.ok()) return s;
      if (auto s = writer_.DropStaging(def_); !s.ok()) return s;
      if (auto s = Prepare(b); !s.ok()) return s;
      auto new_rows = writer_.CreateStaging(*query_, target_);
      if (!new_rows.ok()) return Explain(new_rows.error(), b);
      auto old_rows = writer_.SwapIn(def_, req_.own_views);
      if (!old_rows.ok()) return old_rows.error();
      written[0].counts.inserted = *new_rows;
      written[0].counts.deleted = *old_rows;
      if (auto s = Audit(); !s.ok()) return s;
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
      if (auto s = Claim(); !s.ok()) return s;
      if (auto s = PinLookups(); !s.ok()) return s;
      if (req_.plan.action != Action::kTest) {
        derived::Batch b;
        b.read = b.write = req_.table->window;
        if (auto s = Prepare(b); !s.ok()) return s;
        if (auto made = writer_.CreateView(*query_, target_); !made.ok()) return Explain(made.error(), b);
      }
      if (auto s = Audit(); !s.ok()) return s;
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
    if (auto s = ctx_.meta->SaveState(next, result_.state); !s.ok()) return s;
    next.stored = true;
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

  // First in every step's transaction. On a shared warehouse another process may write
  // this table too: its lock keeps the two apart until the step commits, and a state
  // that moved since this build's plan was made means the plan is stale (its windows may
  // be written already), so nothing is written and the next plan starts from there.
  Status Claim() {
    const std::string name = def_.qualified_name();
    auto newer = ctx_.meta->Claim(name, result_.state, &req_.definition_hash);
    if (!newer.ok()) return newer.error();
    if (!newer->has_value()) return Status::Ok();
    superseded_ = std::move(**newer);
    return Error(fmt::format("{}: another process updated {} while this one was about to; nothing was written, and the "
                             "next run plans it from what that process committed",
                             def_.file, name));
  }

  // The newest version of a lookup is whatever is committed when the query runs, not
  // when the plan was made: another worker or process may commit one in between. Its
  // state is read in this transaction, with the lookup held still until the commit, so
  // the log names the version the query reads.
  Status PinLookups() {
    std::vector<std::string> names;
    for (const auto& up : req_.upstream) {
      if (up.lookup && !up.is_source) names.push_back(up.name);
    }
    if (names.empty()) return Status::Ok();
    auto states = ctx_.meta->PinStates(names);
    if (!states.ok()) return states.error();
    for (UpstreamStatus up : req_.upstream) {
      auto it = states->find(up.name);
      if (!up.lookup || up.is_source || it == states->end()) continue;
      up.Take(it->second);
      inputs_[up.name] = up.Snapshot();
    }
    return Status::Ok();
  }

  Result<bool> TargetExists() {
    auto cols = writer_.Columns(def_, Into::kTable);
    if (!cols.ok()) return cols.error();
    return cols->has_value();
  }

  // Renders the batch's query and learns its columns without running it, checking
  // them against the declaration before anything is written.
  Status Prepare(const derived::Batch& b) {
    auto rendered = ctx_.cp->RenderMapped(*req_.table, b.read, b.initial);
    if (!rendered.ok()) return Error(rendered.error().ToString());
    rendered_ = std::move(*rendered);
    std::string sql = rendered_->sql();
    if (ctx_.rewrite) {
      auto rewritten = ctx_.rewrite(def_, sql);
      if (!rewritten.ok()) return Error(fmt::format("{}: {}", def_.file, rewritten.error().message));
      if (*rewritten != sql) rendered_.reset();  // its origins no longer match the text
      sql = std::move(*rewritten);
    }
    // Rendered for this batch's window, so checked again: validate saw one window only.
    auto checked = wh_.CheckQuery(sql);
    if (!checked.ok()) return QueryRefused(def_, rendered_ ? &*rendered_ : nullptr, checked.error());
    query_ = std::move(*checked);
    // Later batches of one build have the same columns: bind and check once.
    if (!columns_checked_) {
      if (auto s = wh_.UseDataset(def_.dataset); !s.ok()) return s;
      auto described = wh_.DescribeQuery(*query_);
      if (!described.ok()) {
        return QueryFailed(def_, rendered_ ? &*rendered_ : nullptr, described.error(),
                           sql::Embedding::Describe().QueryLine());
      }
      auto casts = CheckDeclaredColumns(wh_, def_, *described);
      if (!casts.ok()) return casts.error();
      target_.def = &def_;
      target_.columns = std::move(*described);
      target_.casts = std::move(*casts);
      columns_checked_ = true;
    }
    return Status::Ok();
  }

  // Turns a failed write into a message that says what was wrong: a guard's refusal
  // counts the rows it refused (reading after the rollback), a failure of the query
  // points at the template line that wrote it.
  Status Explain(const WriteError& e, const derived::Batch& b) {
    switch (e.cause) {
      case WriteError::Cause::kEngine:
        return e.error;
      case WriteError::Cause::kQuery:
        return QueryFailed(def_, rendered_ ? &*rendered_ : nullptr, e.error, e.query_line);
      case WriteError::Cause::kRowOutsideWindow:
        (void)wh_.Rollback();  // the transaction is aborted; read outside it
        return RowsOutsideWindow(def_, b.write, writer_.RowsOutsideWindow(*query_, def_, b.write));
      case WriteError::Cause::kNullMergeKey:
        (void)wh_.Rollback();
        return RowsWithNullKey(def_, writer_.RowsWithNullKey(*query_, def_));
    }
    return e.error;
  }

  Status WriteBatch(const derived::Batch& b, Into into, bool exists, WriteCounts* c) {
    if (auto s = Prepare(b); !s.ok()) return s;
    if (exists && !target_checked_) {
      if (auto s = CheckTargetColumns(into); !s.ok()) return s;
    }
    target_checked_ = true;
    // A window never built holds no rows (append only ever writes rows of its windows),
    // so only a rebuilt window needs its old rows deleted.
    bool replace_window =
        into == Into::kTable && (req_.backfill || result_.state.completed.Intersects(b.write));
    auto written = def_.strategy == Strategy::kMerge
                       ? writer_.Merge(*query_, target_, into, exists)
                       : writer_.Append(*query_, target_, into, b.write, exists, replace_window);
    if (!written.ok()) return Explain(written.error(), b);
    c->inserted += written->inserted;
    c->updated += written->updated;
    c->deleted += written->deleted;
    return Status::Ok();
  }

  Status CheckTargetColumns(Into into) {
    auto existing = writer_.Columns(def_, into);
    if (!existing.ok()) return existing.error();
    return CheckSameColumns(def_, target_.columns, existing->value_or(std::vector<OutputColumn>{}));
  }

  // The data tests, on the table as it will be once the step commits.
  Status Audit() {
    if (def_.tests.empty()) return Status::Ok();
    std::string table = wh_.dialect().Table(def_.dataset, def_.name);
    Window window = req_.plan.batches.empty() ? Window{} : Window{req_.plan.batches.front().read.start,
                                                                  req_.plan.batches.back().read.end};
    auto failures = RunDataTests(wh_, def_, table, [&](const TestDef& t) -> Result<std::string> {
      auto sql = ctx_.cp->RenderText(*req_.table, t.sql, t.where, window);
      if (!sql.ok() || !ctx_.rewrite) return sql;
      auto rewritten = ctx_.rewrite(def_, *sql);
      if (!rewritten.ok()) return Error(fmt::format("test '{}': {}", t.name, rewritten.error().message), t.where);
      return rewritten;
    });
    if (!failures.ok()) {
      const Location& at = failures.error().where;
      return Error(fmt::format("{}: {}", at.file.empty() ? def_.file : at.ToString(), failures.error().message));
    }
    if (failures->empty()) return Status::Ok();
    AuditVerdict verdict = VerdictOf(def_, *failures);
    failure_.status = RunStatus::kTestFailed;
    failure_.details = std::move(verdict.details);
    return Error(std::move(verdict.message));
  }

  // The state once these windows of the plan commit (see StateAfter).
  TableState Next(const std::vector<Window>& written) const {
    return StateAfter(def_, result_.state, req_.plan, written, req_.definition_hash, inputs_);
  }

  void Finish(TableState* next) const {
    next->last_status = RunStatusName(RunStatus::kSuccess);
    next->last_error.clear();
    next->last_run_id = ctx_.run_id;
    next->consecutive_failures = 0;
    next->config = {{"strategy", StrategyName(def_.strategy)},
                    {"schedule", ScheduleName(def_.schedule)},
                    {"time_column", def_.time_column},
                    {"partition_by", def_.partition_by},
                    {"cluster_by", def_.cluster_by},
                    {"file", def_.file},
                    {"metadata_hash", MetadataHash(def_)},
                    {"tests_hash", TestsHash(def_)}};
  }

  LogEntry Entry(std::optional<Window> w, const WriteCounts& c, double started) const {
    LogEntry e = LogEntry::Begin(ctx_.run_id, def_.qualified_name(), req_.definition_hash,
                                 std::string(OperationName(req_.plan, def_.strategy, req_.backfill)), ctx_.now);
    e.window = w;
    e.rows_inserted = c.inserted;
    e.rows_updated = c.updated;
    e.rows_deleted = c.deleted;
    e.inputs = inputs_;
    e.started_at = started;
    if (!req_.plan.reason.empty()) e.details = {{"reason", req_.plan.reason}};  // why it rebuilt, say
    return e;
  }

  // Records a failed attempt after its rollback: the log row and the table's status.
  bool Fail(const Status& st, std::optional<Window> w, double started) {
    failure_.error = st.error().message;
    if (superseded_) {
      // Not a failure of this table: nothing is logged, and the state is the one the
      // other process committed, for the next plan.
      failure_.status = RunStatus::kSuperseded;
      result_.state = *superseded_;
      return false;
    }
    if (MetadataStore::IsFenced(st.error())) {
      // Another process holds the table now: this one writes nothing, its log included.
      failure_.status = RunStatus::kSuperseded;
      return false;
    }
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
  TableWriter& writer_;
  const TableDef& def_;
  nlohmann::json inputs_ = nlohmann::json::object();
  BuildResult result_;
  TableState pending_state_;
  Failure failure_;
  int total_windows_ = 0;
  std::optional<RenderedSql> rendered_;       // the batch being written, rendered with its origins
  std::optional<sql::CheckedSelect> query_;  // ... and checked to be one SELECT
  std::optional<TableState> superseded_;  // another process's newer state (Claim)
  bool target_checked_ = false;  // the existing table's columns were compared once
  bool columns_checked_ = false;  // the query's columns were checked against the declaration
  WriteTarget target_;            // ... and are these, with their declared types
};

}  // namespace

BuildResult Build(BuildContext& ctx, const BuildRequest& req) { return TableBuilder(ctx, req).Run(); }

Result<TableState> UpdateMetadata(BuildContext& ctx, const TableDef& def, const TableState& state,
                                  const std::string& metadata_hash) {
  crash::Scope crash_scope("metadata");
  TableState next = state;
  next.config["metadata_hash"] = metadata_hash;
  next.config["tests_hash"] = TestsHash(def);
  LogEntry e = LogEntry::Begin(ctx.run_id, def.qualified_name(), state.definition_hash, "metadata", ctx.now);
  e.details = {{"description", def.description}, {"owner", def.owner}, {"tags", def.tags}};
  Status st = InTransaction(*ctx.wh, [&]() -> Status {
    if (auto s = ctx.wh->writer().Comment(def, /*clear=*/true); !s.ok()) return s;
    e.finished_at = WallSeconds();
    if (auto s = ctx.meta->AppendLog(e); !s.ok()) return s;
    return ctx.meta->SaveState(next, state);
  });
  if (!st.ok()) return Error(fmt::format("{}: cannot update the metadata of {}: {}", def.file, def.qualified_name(),
                                         st.error().message));
  return next;
}

}  // namespace derived
