#include "engine/builder.h"

#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "compile/typecheck.h"
#include "crash/crash_point.h"
#include "engine/audit.h"
#include "util/hash.h"
#include "util/strings.h"

namespace derived {
namespace {

std::string WindowText(Window w) { return fmt::format("[{}, {})", FormatIso(w.start), FormatIso(w.end)); }

// A failure that is a failed data test rather than an engine error.
struct Failure {
  RunStatus status = RunStatus::kFailed;
  std::string error;
  nlohmann::json details;
  std::optional<Window> window;
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
    auto newer = ctx_.meta->Claim(name, result_.state);
    if (!newer.ok()) return newer.error();
    if (!newer->has_value()) return Status::Ok();
    superseded_ = std::move(**newer);
    return Error(fmt::format("{}: another process updated {} while this one was about to; nothing was written, and the "
                             "next run plans it from what that process committed",
                             def_.file, name));
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
    // Rendered for this batch's window, so checked again: validate saw one window only.
    auto checked = wh_.CheckQuery(rendered_->sql());
    if (!checked.ok()) return QueryRefused(checked.error());
    query_ = std::move(*checked);
    // Later batches of one build have the same columns: bind and check once.
    if (!columns_checked_) {
      if (auto s = wh_.UseDataset(def_.dataset); !s.ok()) return s;
      auto described = wh_.DescribeQuery(*query_);
      if (!described.ok()) return QueryFailed(described.error(), sql::Embedding::Describe().QueryLine());
      if (auto s = CheckColumns(*described); !s.ok()) return s;
      target_.def = &def_;
      target_.columns = std::move(*described);
      columns_checked_ = true;
    }
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

  // Turns a failed write into a message that says what was wrong: a guard's refusal
  // counts the rows it refused (reading after the rollback), a failure of the query
  // points at the template line that wrote it.
  Status Explain(const WriteError& e, const derived::Batch& b) {
    switch (e.cause) {
      case WriteError::Cause::kEngine:
        return e.error;
      case WriteError::Cause::kQuery:
        return QueryFailed(e.error, e.query_line);
      case WriteError::Cause::kRowOutsideWindow: {
        (void)wh_.Rollback();  // the transaction is aborted; read outside it
        auto outside = writer_.RowsOutsideWindow(*query_, def_, b.write);
        std::string count = outside.ok() ? std::to_string(outside->count) : "some";
        std::string range = outside.ok() ? fmt::format(" (from {} to {})", outside->min, outside->max) : "";
        return Error(fmt::format("{}: the query returned {} row{} whose time_column '{}' is outside the window {}{}; "
                                 "an append table's query must only return rows of the window it builds: filter on "
                                 "{{{{ window_start }}}} and {{{{ window_end }}}}",
                                 def_.file, count, count == "1" ? "" : "s", def_.time_column, WindowText(b.write),
                                 range));
      }
      case WriteError::Cause::kNullMergeKey: {
        (void)wh_.Rollback();
        auto n = writer_.RowsWithNullKey(*query_, def_);
        return Error(fmt::format("{}: the query returned {} row(s) with a NULL merge key ({})", def_.file,
                                 n.ok() ? std::to_string(*n) : "some", Join(def_.merge.keys, ", ")));
      }
    }
    return e.error;
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
      target_.casts[dc.name] = *declared;
      if (!wh_.dialect().TypeFits(*declared, c->type)) {
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
    std::set<std::string> have, want;
    for (const auto& c : existing->value_or(std::vector<OutputColumn>{})) have.insert(c.name);
    for (const auto& c : target_.columns) want.insert(c.name);
    if (have == want) return Status::Ok();
    return Error(fmt::format("{}: the query returns columns ({}) but the table has ({}); change the definition so "
                             "that it is rebuilt",
                             def_.file, Join({want.begin(), want.end()}, ", "), Join({have.begin(), have.end()}, ", ")));
  }


  // The data tests, on the table as it will be once the step commits.
  Status Audit() {
    if (def_.tests.empty()) return Status::Ok();
    std::string table = wh_.dialect().Table(def_.dataset, def_.name);
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
    failure_.status = RunStatus::kTestFailed;
    failure_.details = {{"tests", tests}};
    return Error(fmt::format("{}: {}", def_.file, Join(lines, "; ")));
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
                    {"metadata_hash", MetadataHash(def_)}};
  }

  LogEntry Entry(std::optional<Window> w, const WriteCounts& c, double started) const {
    LogEntry e = LogEntry::Begin(ctx_.run_id, def_.qualified_name(), req_.definition_hash, Operation(), ctx_.now);
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

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
}

}  // namespace derived
