// The engine's repairs: backfills, restatements and their propagation to what read the
// changed windows (engine/plan.h decides each repair; this gathers and applies them).
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "dag/selector.h"
#include "engine/engine.h"
#include "util/strings.h"

namespace derived {

namespace {

Window Union(std::optional<Window> a, Window b) {
  if (!a) return b;
  return {std::min(a->start, b.start), std::max(a->end, b.end)};
}

}  // namespace

Result<std::optional<Repair>> Engine::RepairOf(const CompiledTable& t, Window changed, bool explicit_windows) const {
  const TableDef& def = cp_->def(t);
  const std::string& name = def.qualified_name();
  auto it = states_.find(name);
  RepairInput in;
  in.def = &def;
  in.definition_hash = an_->hashes.at(name);
  in.state = it == states_.end() ? nullptr : &it->second;
  in.window_as_value = an_->window_as_value.count(name) > 0;
  in.changed = changed;
  in.explicit_windows = explicit_windows;
  in.now = now_;
  in.max_windows = cp_->project.max_windows_per_run;
  return PlanRepair(in);
}

Result<RunReport> Engine::Backfill(const std::string& table, Timestamp from, Timestamp to, bool downstream,
                                   const ProgressFn& progress) {
  const CompiledTable* t = cp_->FindTable(table);
  if (!t) {
    if (auto b = an_->broken.find(ToLower(table)); b != an_->broken.end()) {
      return Error(fmt::format("{} cannot be backfilled while it is broken: {}", ToLower(table), b->second));
    }
    return Error(fmt::format("unknown table '{}'", table));
  }
  const TableDef& def = cp_->def(*t);
  if (std::string why = BrokenReason(*t); !why.empty()) {
    return Error(fmt::format("{} cannot be backfilled while it is broken: {}", def.qualified_name(), why));
  }
  if (!(from < to)) return Error(fmt::format("--from {} must be before --to {}", FormatIso(from), FormatIso(to)));
  auto it = states_.find(def.qualified_name());
  if (it == states_.end() || it->second.data_version == 0) {
    return Error(fmt::format("{} has not been built yet: `derived run` builds it", def.qualified_name()));
  }
  if (it->second.definition_hash != an_->hashes.at(def.qualified_name())) {
    return Error(fmt::format("{} changed since it was built: `derived run` rebuilds it first", def.qualified_name()));
  }
  // Planned once here, so that windows the table does not have are an error of the
  // command; the same plan is the repair's first attempt.
  auto repair = RepairOf(*t, {from, to}, true);
  if (!repair.ok()) return repair.error();
  RunReport report;
  report.run_id = run_id_;
  std::optional<Window> changes;
  auto o = ApplyRepair(*t, {from, to}, true, progress, &changes, std::move(*repair));
  if (!o) return report;
  report.tables.push_back(*o);
  if (downstream && !o->failed() && changes) Propagate({{def.qualified_name(), *changes}}, progress, &report);
  return report;
}

Result<const SourceDef*> Engine::FindSource(const std::string& name) const {
  if (const SourceDef* s = cp_->project.FindSource(ToLower(name))) return s;
  std::vector<std::string> names;
  for (const auto& src : cp_->project.sources) names.push_back(src.qualified_name());
  return Error(fmt::format("unknown source '{}'{}", name, DidYouMean(ToLower(name), names)));
}

Result<RunReport> Engine::Restate(const std::string& source, Timestamp from, Timestamp to,
                                  const ProgressFn& progress) {
  auto found = FindSource(source);
  if (!found.ok()) return found.error();
  const SourceDef* s = *found;
  if (!(from < to)) return Error(fmt::format("--from {} must be before --to {}", FormatIso(from), FormatIso(to)));
  RunReport report;
  report.run_id = run_id_;
  RestateRange(s->qualified_name(), Window{from, to}, nullptr, progress, &report);
  return report;
}

void Engine::RestateRange(const std::string& source, Window changed, nlohmann::json details,
                          const ProgressFn& progress, RunReport* report) {
  crash::Scope crash_scope("restate");
  // The restatement itself goes in the log, so the repairs that follow have a cause.
  LogEntry e = Entry(source, "", "restate");
  e.details = std::move(details);
  if (changed.start <= kAllTime.start && kAllTime.end <= changed.end) {
    // A source without a time column restates all of it: no window a timestamp can hold.
    if (!e.details.is_object()) e.details = nlohmann::json::object();
    e.details["range"] = "all time";
  } else {
    e.window = changed;
  }
  if (auto st = meta_->AppendLog(e); !st.ok()) {
    report->tables.push_back({source, StepStatus::kFailed, "cannot log the restatement: " + st.error().message});
    return;
  }
  Propagate({{source, changed}}, progress, report);
}

void Engine::Propagate(std::map<std::string, Window> changed, const ProgressFn& progress, RunReport* report) {
  std::set<std::string> failed;
  for (int id : cp_->order) {
    if (cp_->graph.node(id).kind != NodeKind::kTable) continue;
    const CompiledTable* t = cp_->FindTable(cp_->graph.node(id).name);
    if (!t || changed.count(cp_->def(*t).qualified_name())) continue;
    const TableDef& def = cp_->def(*t);
    std::optional<Window> input;
    std::string failed_input;
    for (const auto& up : t->upstream) {
      if (auto c = changed.find(up); c != changed.end()) input = Union(input, c->second);
      if (failed.count(up)) failed_input = up;
    }
    if (!failed_input.empty()) {
      report->tables.push_back({def.qualified_name(), StepStatus::kSkipped, "upstream " + failed_input + " failed"});
      failed.insert(def.qualified_name());
      continue;
    }
    if (!input || !BrokenReason(*t).empty()) continue;
    std::optional<Window> changes;
    auto o = ApplyRepair(*t, *input, false, progress, &changes);
    if (!o) {
      if (changes) changed[def.qualified_name()] = *changes;  // a view: the change shows through it
      continue;
    }
    o->detail = "repair: " + o->detail;
    report->tables.push_back(*o);
    if (o->failed()) {
      failed.insert(def.qualified_name());
    } else if (changes) {
      changed[def.qualified_name()] = *changes;
    }
  }
}

std::optional<TableOutcome> Engine::ApplyRepair(const CompiledTable& t, Window changed, bool explicit_windows,
                                                const ProgressFn& progress, std::optional<Window>* changes,
                                                std::optional<std::optional<Repair>> planned) {
  // Another process's commit between the plan and the write supersedes the repair
  // (nothing written; the builder took that process's state): it is planned again from
  // there. One that keeps being superseded is a failure, never a repair done.
  constexpr int kAttempts = 3;
  std::optional<TableOutcome> o;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    Result<std::optional<Repair>> repair = planned ? Result<std::optional<Repair>>(std::move(*planned))
                                                   : RepairOf(t, changed, explicit_windows);
    planned.reset();
    if (!repair.ok()) {
      o = TableOutcome{cp_->def(t).qualified_name(), StepStatus::kFailed, repair.error().message};
      return o;
    }
    if (!*repair) {
      // Nothing (more) to repair. After a superseded attempt that means the other
      // process's state already covers it: nothing was written here, nothing to pass on.
      if (o) {
        changes->reset();
        o->status = StepStatus::kUpToDate;
        o->detail = "another process updated it meanwhile; nothing left to repair";
      }
      return o;
    }
    const Repair& r = **repair;
    *changes = r.changes;
    if (r.plan.action == Action::kWait) return std::nullopt;
    o = BuildTable(t, r.plan, true, progress);
    if (o->status != StepStatus::kSuperseded) return o;
    if (MetadataStore::IsFenced(Error(o->detail))) {
      // Not a race to retry: the table is another process's (its lease), or the fleet
      // runs another definition of it. The user asked for this repair: it failed.
      o->status = StepStatus::kFailed;
      return o;
    }
  }
  o->status = StepStatus::kFailed;
  o->detail = fmt::format("another process kept updating it ({} times) while this repair was about to be written; "
                          "nothing was written: run it again",
                          kAttempts);
  return o;
}

}  // namespace derived
