#include "engine/engine.h"

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "dag/selector.h"
#include "util/strings.h"

namespace derived {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int RunReport::failures() const {
  int n = 0;
  for (const auto& t : tables) n += t.failed() ? 1 : 0;
  return n;
}

std::shared_ptr<const ProjectAnalysis> AnalyzeProject(const CompiledProject& cp) {
  auto an = std::make_shared<ProjectAnalysis>();
  an->cp = &cp;
  an->provenance = CollectProvenance(cp.project.root);
  // A table is broken by any error in its YAML file or its SQL file.
  std::map<std::string, std::string> table_of_file;
  for (const auto& def : cp.project.tables) {
    table_of_file[def.file] = def.qualified_name();
    table_of_file[def.sql.file] = def.qualified_name();
  }
  for (const auto& d : cp.diags.all()) {
    auto it = table_of_file.find(d.where.file);
    if (d.severity == Severity::kError && it != table_of_file.end()) an->broken.emplace(it->second, d.ToString());
  }
  // What a file that does not load defines is broken too: kept, not updated, readers held.
  for (const auto& b : cp.project.broken) {
    std::string why = b.file + " does not load";
    for (const auto& d : cp.diags.all()) {
      if (d.severity == Severity::kError && d.where.file == b.file) {
        why = fmt::format("{} does not load: {}", b.file, d.ToString());
        break;
      }
    }
    for (const auto& name : b.names) an->broken.emplace(name, why);
  }
  std::set<int> ordered(cp.order.begin(), cp.order.end());
  // One fixed, unmistakable window: its rendering identifies the definition and shows
  // whether the SQL uses its bounds as values.
  const Window probe{Timestamp{-2174586894}, Timestamp{-2174500494}};  // 1901-02-03 04:05:06 + 1 day
  const std::string lo = FormatSqlLiteral(probe.start), hi = FormatSqlLiteral(probe.end);
  for (const auto& t : cp.tables) {
    const TableDef& def = cp.def(t);
    const std::string name = def.qualified_name();
    if (t.node >= 0 && !ordered.count(t.node)) an->broken.emplace(name, "it is on or below a dependency cycle");
    std::string rendered[2];
    for (bool initial : {false, true}) {
      auto sql = cp.Render(t, probe, initial);
      rendered[initial] = sql.ok() ? *sql : "error: " + sql.error().message;
    }
    an->hashes[name] = DefinitionHash(def, rendered[0], rendered[1]);
    an->metadata_hashes[name] = MetadataHash(def);
    an->tests_hashes[name] = TestsHash(def);
    if (UsesWindowAsValue(rendered[0], lo, hi) || UsesWindowAsValue(rendered[1], lo, hi)) {
      an->window_as_value.insert(name);
    }
  }
  return an;
}

Result<std::unique_ptr<Engine>> Engine::Open(const CompiledProject* cp, Timestamp now) {
  auto wh = OpenWarehouse(cp->project);
  if (!wh.ok()) return wh.error();
  auto e = Open(AnalyzeProject(*cp), std::move(*wh), now);
  if (!e.ok()) return e.error();
  if (auto st = (*e)->LoadSources(); !st.ok()) return st.error();
  return e;
}

Result<std::unique_ptr<Engine>> Engine::Open(std::shared_ptr<const ProjectAnalysis> analysis,
                                             std::unique_ptr<Warehouse> wh, Timestamp now, EngineScope scope) {
  std::unique_ptr<Engine> e(new Engine());
  e->an_ = std::move(analysis);
  e->cp_ = e->an_->cp;
  e->now_ = now;
  e->run_id_ = NewRunId();
  e->wh_ = std::move(wh);
  e->meta_ = std::make_unique<MetadataStore>(e->wh_.get(), e->an_->provenance, std::move(scope.metadata_schema));
  e->rewrite_ = std::move(scope.rewrite);
  if (auto st = e->LoadStates(); !st.ok()) return st.error();
  return e;
}

derived::Status Engine::LoadStates() {
  if (auto st = meta_->EnsureSchema(); !st.ok()) return Error("cannot create the metadata schema: " + st.error().message);
  auto states = meta_->LoadStates();
  if (!states.ok()) return states.error();
  states_ = std::move(*states);
  return derived::Status::Ok();
}

derived::Status Engine::ReloadStates(const CompiledTable& t) {
  std::vector<std::string> names = StatesRead(t);
  auto states = meta_->LoadStates(&names);
  if (!states.ok()) return states.error();
  for (const auto& n : names) {
    auto it = states->find(n);
    if (it == states->end()) {
      states_.erase(n);
    } else {
      states_[n] = std::move(it->second);
    }
  }
  return derived::Status::Ok();
}

derived::Status Engine::LoadSources() {
  auto marks = meta_->LoadMarks();
  if (!marks.ok()) return marks.error();
  FileSources* files = wh_->file_sources();
  auto unattached = files ? files->Attach(cp_->project) : std::map<std::string, std::string>();
  if (!unattached.ok()) return unattached.error();
  sources_.clear();
  for (const auto& s : cp_->project.sources) {
    UpstreamStatus u;
    u.name = s.qualified_name();
    u.is_source = true;
    if (auto it = unattached->find(u.name); it != unattached->end()) {
      u.problem = it->second;
      sources_[u.name] = std::move(u);
      continue;
    }
    u.lookup = s.lookup;
    auto cols = wh_->Columns(s.dataset, s.name);
    u.exists = cols.ok() && cols->has_value();
    if (s.freshness.kind == Freshness::Kind::kStatic) {
      u.complete_through = kEndOfTime;
    } else if (s.freshness.kind == Freshness::Kind::kMarker) {
      auto it = marks->find(u.name);
      if (it != marks->end()) {
        u.complete_through = it->second;
      } else {
        u.problem = fmt::format("not marked complete yet: run `derived source mark {} --through TS`", u.name);
      }
    } else if (auto st = wh_->UseDataset(s.dataset); !st.ok()) {
      u.problem = st.error().message;
    } else if (auto q = wh_->CheckQuery(s.freshness.query); !q.ok()) {
      // Never run: validate reports it, with its place in the file.
      u.problem = fmt::format("its freshness query was not run: {} ({})", q.error().message, s.file);
    } else {
      auto rows = wh_->QueryEmbedded(*q, sql::Embedding::Alone());
      if (!rows.ok()) {
        u.problem = "its freshness query failed: " + Split(rows.error().message, '\n')[0];
      } else if (rows->size() == 0 || rows->columns.empty() || !rows->at(0, 0)) {
        u.problem = "its freshness query returned no timestamp (no data yet)";
      } else if (auto ts = ParseTimestamp(*rows->at(0, 0)); !ts.ok()) {
        u.problem = fmt::format("its freshness query returned '{}', not a timestamp", *rows->at(0, 0));
      } else {
        u.complete_through = *ts;
      }
    }
    sources_[u.name] = std::move(u);
  }
  return derived::Status::Ok();
}

UpstreamStatus Engine::StatusOf(const std::string& name, int depth) const {
  if (auto it = sources_.find(name); it != sources_.end()) return it->second;
  UpstreamStatus u;
  u.name = name;
  const TableDef* def = cp_->project.FindTable(name);
  if (def) u.strategy = def->strategy, u.lookup = def->lookup;
  auto it = states_.find(name);
  const TableState* st = it == states_.end() ? nullptr : &it->second;
  if (st) u.Take(*st);
  // A view is as complete as its inputs are now (cycles never reach here: the depth
  // only bounds a chain of views).
  const CompiledTable* t = def && def->strategy == Strategy::kView ? cp_->FindTable(name) : nullptr;
  if (t && u.exists && depth < 64) {
    std::vector<UpstreamStatus> ups = UpstreamsOf(*t, depth + 1);
    u.complete_through = ViewCompleteThrough(*def, st, ups);
    u.through = nlohmann::json::object();
    for (const auto& up : ups) u.through[up.name] = up.Snapshot();
  }
  return u;
}

std::vector<UpstreamStatus> Engine::UpstreamsOf(const CompiledTable& t, int depth) const {
  std::vector<UpstreamStatus> out;
  for (const auto& up : t.upstream) out.push_back(StatusOf(up, depth));
  return out;
}

std::vector<std::string> Engine::StatesRead(const CompiledTable& t) const {
  std::vector<std::string> names = {cp_->def(t).qualified_name()};
  std::set<std::string> seen(names.begin(), names.end());
  std::vector<const CompiledTable*> todo = {&t};
  while (!todo.empty()) {
    const CompiledTable* at = todo.back();
    todo.pop_back();
    for (const auto& up : at->upstream) {
      if (sources_.count(up) || !seen.insert(up).second) continue;
      names.push_back(up);
      const CompiledTable* u = cp_->FindTable(up);
      if (u && cp_->def(*u).strategy == Strategy::kView) todo.push_back(u);  // read through it
    }
  }
  return names;
}

PlanInput Engine::PlanInputFor(const CompiledTable& t, const std::vector<UpstreamStatus>& ups) const {
  const TableDef& def = cp_->def(t);
  PlanInput in;
  in.def = &def;
  in.definition_hash = an_->hashes.at(def.qualified_name());
  in.initial_sql_differs = t.initial_sql != t.sql;
  in.window_as_value = an_->window_as_value.count(def.qualified_name()) > 0;
  auto it = states_.find(def.qualified_name());
  in.state = it == states_.end() ? nullptr : &it->second;
  in.upstream = ups;
  in.now = now_;
  in.max_windows = cp_->project.max_windows_per_run;
  return in;
}

std::string Engine::BrokenReason(const CompiledTable& t) const {
  auto it = an_->broken.find(cp_->def(t).qualified_name());
  return it == an_->broken.end() ? "" : it->second;
}

LogEntry Engine::Entry(const std::string& table, const std::string& definition_hash, const char* operation) const {
  return LogEntry::Begin(run_id_, table, definition_hash, operation, now_);
}

void Engine::RecordBroken(const CompiledTable& t, const std::string& reason) {
  const TableDef& def = cp_->def(t);
  LogEntry e = Entry(def.qualified_name(), an_->hashes.at(def.qualified_name()), "validate");
  e.status = RunStatus::kFailed;
  e.error = reason;
  (void)meta_->RecordFailure(e, &states_[e.table]);  // states_[...] starts empty for a table never seen
}

TableOutcome Engine::BuildTable(const CompiledTable& t, const Plan& plan, bool backfill, const ProgressFn& progress) {
  const TableDef& def = cp_->def(t);
  auto t0 = std::chrono::steady_clock::now();
  BuildContext ctx;
  ctx.wh = wh_.get();
  ctx.meta = meta_.get();
  ctx.cp = cp_;
  ctx.run_id = run_id_;
  ctx.now = now_;
  ctx.on_progress = progress;
  ctx.cancel = cancel_;
  ctx.rewrite = rewrite_;
  BuildRequest req;
  req.table = &t;
  req.definition_hash = an_->hashes.at(def.qualified_name());
  req.plan = plan;
  req.upstream = UpstreamsOf(t);
  req.backfill = backfill;
  if (auto id = cp_->graph.Find(def.qualified_name())) {
    for (int down : cp_->graph.DownstreamClosure(*id)) {
      const CompiledTable* reader = cp_->FindTable(cp_->graph.node(down).name);
      if (reader && cp_->def(*reader).strategy == Strategy::kView) req.own_views.insert(cp_->graph.node(down).name);
    }
  }
  if (auto it = states_.find(def.qualified_name()); it != states_.end()) req.state = it->second;
  BuildResult r = Build(ctx, req);
  states_[def.qualified_name()] = r.state;

  TableOutcome o;
  o.table = def.qualified_name();
  o.windows = r.windows;
  o.rows = r.inserted + r.updated;
  o.seconds = SecondsSince(t0);
  std::string op = backfill ? "backfill" : std::string(ActionName(plan.action));
  if (r.ok()) {
    o.status = StepStatus::kBuilt;
    if (def.strategy == Strategy::kView) {
      o.detail = plan.action == Action::kTest ? "view tested" : plan.action == Action::kCreate ? "view created"
                                                                                                : "view re-created";
    } else {
      o.detail = fmt::format("{}: {}, {} inserted, {} updated, {} deleted", op, Plural(r.windows, "window"),
                             r.inserted, r.updated, r.deleted);
    }
    if (!plan.reason.empty() && plan.action != Action::kAppend) o.detail += " (" + plan.reason + ")";
  } else {
    o.status = StepStatusOf(r.status);
    o.detail = r.error;
    if (r.windows > 0) o.detail += fmt::format(" ({} committed before the failure)", Plural(r.windows, "window"));
  }
  return o;
}

TableOutcome Engine::Update(const CompiledTable& t, const ProgressFn& progress) {
  const TableDef& def = cp_->def(t);
  const std::string name = def.qualified_name();
  TableOutcome o;
  o.table = name;
  std::string metadata_note;
  auto it = states_.find(name);
  if (it != states_.end() && it->second.config.contains("removed_at")) {
    // Defined again: a later removal starts a new clock. Cleared here, by the table's
    // own updater, so no other writer races the steps that save this row.
    TableState next = it->second;
    next.config.erase("removed_at");
    auto st = InTransaction(*wh_, [&]() -> derived::Status { return meta_->SaveState(next, it->second); });
    if (!st.ok()) return {name, StepStatus::kFailed, st.error().message};
    it->second = std::move(next);
  }
  if (it != states_.end() && it->second.data_version > 0 && it->second.definition_hash == an_->hashes.at(name) &&
      it->second.config.value("metadata_hash", "") != an_->metadata_hashes.at(name)) {
    BuildContext ctx{wh_.get(), meta_.get(), cp_, run_id_, now_, nullptr, nullptr, rewrite_};
    auto next = UpdateMetadata(ctx, def, it->second, an_->metadata_hashes.at(name));
    if (!next.ok()) return {name, StepStatus::kFailed, next.error().message};
    it->second = std::move(*next);
    metadata_note = "metadata updated";
  }
  Plan plan = PlanTable(PlanInputFor(t, UpstreamsOf(t)));
  if (!plan.refused.empty()) {
    if (it == states_.end() || it->second.last_error != plan.refused) RecordBroken(t, plan.refused);
    return {name, StepStatus::kFailed, plan.refused};
  }
  if (plan.action == Action::kWait) {
    o.status = !metadata_note.empty()   ? StepStatus::kUpdated
               : plan.waiting_on.empty() ? StepStatus::kUpToDate
                                         : StepStatus::kWaiting;
    o.detail = metadata_note.empty() ? plan.reason : metadata_note + " (no rebuild); " + plan.reason;
    return o;
  }
  o = BuildTable(t, plan, false, progress);
  if (!metadata_note.empty()) o.detail = metadata_note + "; " + o.detail;
  return o;
}

TableOutcome Engine::Step(const std::string& table, const ProgressFn& progress) {
  const CompiledTable* t = cp_->FindTable(table);
  if (!t) return {table, StepStatus::kFailed, "not a table of this project"};
  if (auto st = ReloadStates(*t); !st.ok()) return {table, StepStatus::kFailed, st.error().message};
  if (std::string why = BrokenReason(*t); !why.empty()) {
    auto it = states_.find(table);
    // Logged once per distinct problem, not on every wake (by whichever worker).
    if (it == states_.end() || it->second.last_error != why) RecordBroken(*t, why);
    return {table, StepStatus::kFailed, "invalid definition: " + why};
  }
  for (const auto& up : t->upstream) {
    if (!cp_->project.FindTable(up) && !cp_->project.FindSource(up)) {
      return {table, StepStatus::kWaiting, fmt::format("upstream {} has an invalid definition", up)};
    }
  }
  return Update(*t, progress);
}

Result<RunReport> Engine::RunOnce(const std::string& select, const ProgressFn& progress) {
  std::optional<std::set<int>> selected;
  if (!select.empty()) {
    auto ids = Select(cp_->graph, select);
    if (!ids.ok()) return ids.error();
    selected = std::set<int>(ids->begin(), ids->end());
  }
  return RunNodes(selected, progress);
}

Result<RunReport> Engine::RunTables(const std::vector<std::string>& tables, const ProgressFn& progress) {
  std::set<int> selected;
  for (const auto& name : tables) {
    auto id = cp_->graph.Find(name);
    if (!id) return Error(fmt::format("no table {} in the project", name));
    selected.insert(*id);
  }
  return RunNodes(selected, progress);
}

Result<RunReport> Engine::RunNodes(const std::optional<std::set<int>>& selected, const ProgressFn& progress) {
  RunReport report;
  report.run_id = run_id_;
  // Tables that failed or were skipped in this run, and why: their readers are skipped.
  std::map<std::string, std::string> blocked;
  std::set<int> visited;
  auto wanted = [&](const CompiledTable& t) { return !selected || selected->count(t.node); };
  if (!selected) {  // a whole run also looks after the tables that left the project
    auto swept = SweepRemoved();
    if (!swept.ok()) return swept.error();
    report.tables = std::move(*swept);
    // ... and repairs what changed files restate, before anything reads them again.
    auto changes = FileChanges();
    if (!changes.ok()) return changes.error();
    ApplyFileChanges(*changes, progress, &report);
  }

  for (int id : cp_->order) {
    visited.insert(id);
    if (cp_->graph.node(id).kind != NodeKind::kTable) continue;
    const CompiledTable* t = cp_->FindTable(cp_->graph.node(id).name);
    if (!t) continue;
    const TableDef& def = cp_->def(*t);
    std::string name = def.qualified_name();
    if (!wanted(*t)) continue;
    TableOutcome o;
    o.table = name;
    if (std::string why = BrokenReason(*t); !why.empty()) {
      RecordBroken(*t, why);
      o.status = StepStatus::kFailed;
      o.detail = "invalid definition: " + why;
      blocked[name] = "failed";
      report.tables.push_back(o);
      continue;
    }
    std::string skip;
    for (const auto& up : t->upstream) {
      if (auto it = blocked.find(up); it != blocked.end()) {
        skip = fmt::format("upstream {} {}", up, it->second == "failed" ? "failed" : "was skipped");
        break;
      }
      if (!cp_->project.FindTable(up) && !cp_->project.FindSource(up)) {
        skip = fmt::format("upstream {} has an invalid definition", up);
        break;
      }
    }
    if (!skip.empty()) {
      o.status = StepStatus::kSkipped;
      o.detail = skip;
      blocked[name] = "skipped";
      report.tables.push_back(o);
      continue;
    }
    o = Update(*t, progress);
    if (o.failed()) blocked[name] = "failed";
    report.tables.push_back(o);
  }
  if (!selected) {
    for (const auto& [name, why] : BrokenFiles(false)) report.tables.push_back({name, StepStatus::kFailed, why});
  }
  // Tables on or below a cycle never reach the order.
  for (const auto& t : cp_->tables) {
    if (t.node < 0 || visited.count(t.node) || !wanted(t)) continue;
    std::string why = BrokenReason(t);
    RecordBroken(t, why);
    report.tables.push_back({cp_->def(t).qualified_name(), StepStatus::kFailed, "invalid definition: " + why});
  }
  return report;
}

std::string_view StepStatusName(StepStatus s) {
  switch (s) {
    case StepStatus::kBuilt: return "built";
    case StepStatus::kUpdated: return "updated";
    case StepStatus::kUpToDate: return "up_to_date";
    case StepStatus::kWaiting: return "waiting";
    case StepStatus::kSkipped: return "skipped";
    case StepStatus::kSuperseded: return "superseded";
    case StepStatus::kRemoved: return "removed";
    case StepStatus::kDropped: return "dropped";
    case StepStatus::kFailed: return "failed";
    case StepStatus::kTestFailed: return "test_failed";
  }
  return "failed";
}

StepStatus StepStatusOf(RunStatus s) {
  switch (s) {
    case RunStatus::kSuccess: return StepStatus::kBuilt;
    case RunStatus::kTestFailed: return StepStatus::kTestFailed;
    case RunStatus::kSuperseded: return StepStatus::kSuperseded;
    case RunStatus::kFailed: return StepStatus::kFailed;
  }
  return StepStatus::kFailed;
}

derived::Status Engine::MarkSource(const std::string& source, Timestamp through) {
  crash::Scope crash_scope("mark");
  auto found = FindSource(source);
  if (!found.ok()) return found.error();
  const SourceDef* s = *found;
  if (s->freshness.kind != Freshness::Kind::kMarker) {
    return Error(fmt::format("source '{}' knows its completeness from its freshness query ({}); only sources with "
                             "'freshness: marker' are marked",
                             s->qualified_name(), s->file));
  }
  if (auto st = meta_->SetMark(s->qualified_name(), through, now_); !st.ok()) return st;
  // Read back whole: the mark is not the only thing that can have changed (a file
  // source's first files, say), and a mark never clears another problem.
  return LoadSources();
}

}  // namespace derived
