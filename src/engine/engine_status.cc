// What the engine reports without changing anything: status, storage, and the plan of a
// reload (`derived status`, `show`, `plan`).
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "dag/selector.h"
#include "engine/engine.h"
#include "util/strings.h"

namespace derived {

Result<std::vector<std::string>> Engine::Storage(const TableDef& table) {
  return wh_->DescribeStorage(table.dataset, table.name);
}

Result<std::vector<TableStatus>> Engine::Status() {
  std::map<std::string, std::string> last_run;
  auto last = meta_->LastSuccess();
  if (!last.ok()) return last.error();
  last_run = std::move(*last);

  std::vector<TableStatus> out;
  auto lag = [&](TableStatus* s) {
    if (s->complete_through) s->lag_seconds = std::max<int64_t>(0, now_.seconds - s->complete_through->seconds);
  };
  for (int id : cp_->graph.IdsByName()) {
    const std::string& name = cp_->graph.node(id).name;
    TableStatus s;
    s.table = name;
    if (const SourceDef* src = cp_->project.FindSource(name)) {
      UpstreamStatus u = StatusOf(name);
      s.strategy = "source";
      s.schedule = FreshnessName(src->freshness.kind);
      s.complete_through = u.complete_through;
      lag(&s);
      s.next = !u.problem.empty() ? u.problem : !u.exists ? "does not exist in the warehouse" : "";
      if (src->lookup) s.next = s.next.empty() ? "lookup: readers never wait for it" : s.next;
      out.push_back(std::move(s));
      continue;
    }
    const CompiledTable* t = cp_->FindTable(name);
    if (!t) continue;
    const TableDef& def = cp_->def(*t);
    s.strategy = StrategyName(def.strategy);
    s.schedule = def.strategy == Strategy::kView ? "-" : ScheduleName(def.schedule);
    if (auto it = states_.find(s.table); it != states_.end()) {
      s.last_status = it->second.last_status;
      s.consecutive_failures = it->second.consecutive_failures;
      s.failing = s.consecutive_failures >= kFailingAfter;
      s.last_error = it->second.last_error;
    }
    s.complete_through = StatusOf(name).complete_through;
    lag(&s);
    s.last_run = last_run[s.table];
    if (std::string why = BrokenReason(*t); !why.empty()) {
      s.next = "invalid definition: " + why;
    } else {
      Plan plan = PlanTable(PlanInputFor(*t, UpstreamsOf(*t)));
      s.waiting_on = plan.waiting_on;
      if (plan.action == Action::kWait) {
        s.next = plan.reason;
      } else if (def.strategy == Strategy::kView || def.strategy == Strategy::kReplace) {
        s.next = fmt::format("ready: {} ({})", ActionName(plan.action), plan.reason);
      } else {
        s.next = fmt::format("ready: {} {}", ActionName(plan.action), Plural(plan.windows(), "window"));
      }
    }
    out.push_back(std::move(s));
  }
  for (const auto& [name, why] : BrokenFiles(false)) {
    TableStatus s;
    s.table = name;
    s.strategy = cp_->project.FindBroken(name)->source ? "source" : "?";
    s.schedule = "?";
    if (auto it = states_.find(name); it != states_.end()) {
      s.strategy = it->second.config.value("strategy", "?");
      s.schedule = it->second.config.value("schedule", "?");
      s.complete_through = it->second.complete_through;
      lag(&s);
      s.last_status = it->second.last_status;
      s.last_error = it->second.last_error;
      s.consecutive_failures = it->second.consecutive_failures;
      s.last_run = last_run[name];
    }
    s.next = "broken: " + why + "; its data is kept and not updated, and its readers wait, until the file loads";
    out.push_back(std::move(s));
  }
  for (const auto& [name, state] : states_) {
    if (!Removed(state)) continue;
    TableStatus s;
    s.table = name;
    s.strategy = state.config.value("strategy", "?");
    s.schedule = state.config.value("schedule", "?");
    s.complete_through = state.complete_through;
    s.last_status = "removed";
    s.last_run = last_run[name];
    s.next = RemovalNote(state);
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<PlannedChange>> Engine::PlanChanges() {
  // Every table is planned upstream first with the same decision code as a run, and
  // its state is advanced as if that plan had committed, so readers see their inputs'
  // new versions and completeness as the run would leave them.
  std::map<std::string, TableState> saved = states_;
  std::vector<PlannedChange> out;
  for (int id : cp_->order) {
    const CompiledTable* t = cp_->FindTable(cp_->graph.node(id).name);
    if (!t || !BrokenReason(*t).empty()) continue;
    const TableDef& def = cp_->def(*t);
    const std::string name = def.qualified_name();
    std::vector<UpstreamStatus> ups = UpstreamsOf(*t);
    PlanInput in = PlanInputFor(*t, ups);
    Plan plan = PlanTable(in);
    PlannedChange c = ChangeOf(in, plan, an_->metadata_hashes.at(name));
    if (c.change != Change::kNone) out.push_back(c);
    if (c.change == Change::kRefused || plan.action == Action::kWait) continue;
    std::vector<Window> written;
    for (const auto& b : plan.batches) written.push_back(b.write);
    nlohmann::json inputs = nlohmann::json::object();
    for (const auto& up : ups) inputs[up.name] = up.Snapshot();
    bool built = in.state && in.state->data_version > 0;
    const TableState before = built ? *in.state : TableState{};
    states_[name] = StateAfter(def, before, plan, written, in.definition_hash, inputs);
  }
  states_ = std::move(saved);
  for (const auto& [name, why] : BrokenFiles(false)) {
    out.push_back({name, Change::kBroken, why + ": kept as it is, not updated; nothing is dropped"});
  }
  for (const auto& [name, st] : states_) {
    if (Removed(st)) out.push_back({name, Change::kRemoved, RemovalNote(st)});
  }
  return out;
}

}  // namespace derived
