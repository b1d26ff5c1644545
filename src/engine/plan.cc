#include "engine/plan.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {

void UpstreamStatus::Take(const TableState& st) {
  exists = st.data_version > 0;
  complete_through = st.complete_through;
  data_version = st.data_version;
  version = st.version;
  definition_hash = st.definition_hash;
}

nlohmann::json UpstreamStatus::Snapshot() const {
  nlohmann::json j = {{"kind", is_source ? "source" : strategy == Strategy::kView ? "view" : "table"}};
  j["complete_through"] = complete_through ? nlohmann::json(FormatIso(*complete_through)) : nlohmann::json(nullptr);
  if (lookup) j["lookup"] = true;
  if (!through.is_null()) j["inputs"] = through;
  if (!is_source) {
    j["data_version"] = data_version;
    j["version"] = version;
    j["definition_hash"] = definition_hash;
  }
  return j;
}

std::string_view OperationName(const Plan& plan, Strategy strategy, bool backfill) {
  if (backfill && plan.action != Action::kTest) return "backfill";
  switch (plan.action) {
    case Action::kCreate: return "create";
    case Action::kRebuild: return "rebuild";
    case Action::kReplace: return "replace";
    case Action::kTest: return "test";
    case Action::kWait:
    case Action::kAppend: break;
  }
  return StrategyName(strategy);
}

std::string_view ChangeName(Change c) {
  switch (c) {
    case Change::kNone: return "none";
    case Change::kCreate: return "create";
    case Change::kRebuild: return "rebuild";
    case Change::kRepair: return "repair";
    case Change::kMetadata: return "metadata";
    case Change::kRefused: return "refused";
    case Change::kBroken: return "broken";
    case Change::kRemoved: return "removed";
  }
  return "?";
}

nlohmann::json PlannedChange::ToJson() const {
  return {{"table", table}, {"change", ChangeName(change)}, {"detail", detail}, {"windows", windows}};
}

PlannedChange ChangeOf(const PlanInput& in, const Plan& plan, const std::string& metadata_hash) {
  const TableDef& def = *in.def;
  PlannedChange c;
  c.table = def.qualified_name();
  if (!plan.refused.empty()) {
    c.change = Change::kRefused;
    c.detail = plan.refused;
    return c;
  }
  c.windows = plan.windows();
  bool built = in.state && in.state->data_version > 0;
  std::string what = def.strategy == Strategy::kView      ? "the view re-created"
                     : def.strategy == Strategy::kReplace ? "rebuilt"
                                                          : Plural(c.windows, "window") + " rebuilt";
  std::string when = plan.action == Action::kWait ? "; not ready yet: " + plan.reason : "";
  if (!built) {
    c.change = Change::kCreate;
    c.detail = plan.action == Action::kWait ? "nothing ready yet: " + plan.reason
               : def.strategy == Strategy::kView ? "the view is created"
                                                 : fmt::format("{} ready now", Plural(c.windows, "window"));
  } else if (in.state->definition_hash != in.definition_hash) {
    c.change = Change::kRebuild;
    c.detail = fmt::format("definition changed: {} into a new version{}", what, when);
  } else if (std::string up = RewrittenUpstream(in); !up.empty()) {
    c.change = Change::kRepair;
    c.detail = fmt::format("upstream {} is rebuilt: {}{}", up, what, when);
  } else if (in.state->config.value("metadata_hash", "") != metadata_hash) {
    c.change = Change::kMetadata;
    c.detail = "description, owner, tags or tests changed: no rebuild";
  }
  return c;
}

int Plan::windows() const {
  int n = 0;
  for (const auto& b : batches) n += b.windows;
  return n;
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kWait: return "wait";
    case Action::kCreate: return "create";
    case Action::kAppend: return "append";
    case Action::kReplace: return "replace";
    case Action::kRebuild: return "rebuild";
    case Action::kTest: return "test";
  }
  return "?";
}

int64_t BatchSize(const TableDef& def, bool window_as_value) {
  if (def.batch) return *def.batch;
  if (window_as_value || !(def.window == PeriodOf(def.schedule))) return 1;
  switch (def.schedule) {
    case Schedule::kHourly: return 24 * 31;
    case Schedule::kDaily: return 92;
    case Schedule::kWeekly: return 53;
    case Schedule::kMonthly: return 24;
  }
  return 1;
}

static std::string TooManyWindows(const TableDef& def, int64_t n, Timestamp from, Timestamp to, int64_t max) {
  return fmt::format("{} would build {} {} windows in one run ({} to {}), more than limits.max_windows_per_run ({}): "
                     "check its start and the clock, or raise the limit in derived.yaml",
                     def.qualified_name(), n, ScheduleName(def.schedule), FormatIso(from), FormatIso(to), max);
}

std::vector<Batch> MakeBatches(const TableDef& def, Timestamp from, Timestamp to, int64_t per_batch, bool initial) {
  std::vector<Batch> out;
  std::vector<Window> periods = PeriodsBetween(from, to, def.schedule);
  for (size_t i = 0; i < periods.size(); i += static_cast<size_t>(per_batch)) {
    size_t j = std::min(periods.size(), i + static_cast<size_t>(per_batch)) - 1;
    Batch b;
    b.write = {periods[i].start, periods[j].end};
    // Each period reads [end - window, end); a batch reads the union.
    b.read = {Add(periods[i].end, def.window, -1), periods[j].end};
    b.initial = initial;
    b.windows = static_cast<int>(j - i + 1);
    out.push_back(b);
  }
  return out;
}

namespace {

bool IsComparison(std::string_view token) {
  for (const char* op : {">=", "<=", "<>", "!=", ">", "<", "="}) {
    if (token == op) return true;
  }
  return false;
}

std::string LowerWord(std::string_view w) {
  std::string out(w);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The token just before `pos` and just after `end` (operators or words).
std::pair<std::string, std::string> Neighbours(const std::string& sql, size_t pos, size_t end) {
  auto is_op = [](char c) { return c == '<' || c == '>' || c == '=' || c == '!'; };
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  size_t i = pos;
  while (i > 0 && std::isspace(static_cast<unsigned char>(sql[i - 1]))) --i;
  size_t j = i;
  if (j > 0 && is_op(sql[j - 1])) {
    while (j > 0 && is_op(sql[j - 1])) --j;
  } else {
    while (j > 0 && is_word(sql[j - 1])) --j;
  }
  std::string before = sql.substr(j, i - j);
  size_t k = end;
  while (k < sql.size() && std::isspace(static_cast<unsigned char>(sql[k]))) ++k;
  size_t m = k;
  while (m < sql.size() && is_op(sql[m])) ++m;
  return {LowerWord(before), sql.substr(k, m - k)};
}

}  // namespace

bool UsesWindowAsValue(const std::string& sql, const std::string& start_literal, const std::string& end_literal) {
  for (const std::string* lit : {&start_literal, &end_literal}) {
    for (size_t pos = sql.find(*lit); pos != std::string::npos; pos = sql.find(*lit, pos + 1)) {
      auto [before, after] = Neighbours(sql, pos, pos + lit->size());
      bool filter = IsComparison(before) || before == "between" || before == "and" || IsComparison(after);
      if (!filter) return true;
    }
  }
  return false;
}

namespace {

std::string Through(const std::optional<Timestamp>& t) { return t ? FormatIso(*t) : "nothing"; }

// Inputs that do not exist yet hold back every kind of table; returns false (and fills
// the plan's reason) when one is missing.
bool InputsExist(const PlanInput& in, Plan* plan) {
  for (const auto& up : in.upstream) {
    if (up.exists) continue;
    plan->waiting_on.push_back(up.name);
    if (plan->reason.empty()) {
      plan->reason = up.is_source ? fmt::format("waits for source {} to exist{}", up.name,
                                                up.problem.empty() ? "" : " (" + up.problem + ")")
                                  : fmt::format("waits for {} to be built", up.name);
    }
  }
  return plan->waiting_on.empty();
}

// Names the gating inputs that are not complete through `needed` (the first one in the
// reason). Returns false when there is one.
bool CompleteThrough(const PlanInput& in, Timestamp needed, Plan* plan) {
  bool all = true;
  for (const auto& up : in.upstream) {
    if (!up.gates() || (up.complete_through && *up.complete_through >= needed)) continue;
    all = false;
    plan->waiting_on.push_back(up.name);
    if (plan->reason.empty()) {
      std::string have = up.complete_through ? "complete through " + FormatIso(*up.complete_through)
                                             : (up.problem.empty() ? "nothing complete yet" : up.problem);
      plan->reason = fmt::format("waits for {} ({}; needs {})", up.name, have, FormatIso(needed));
    }
  }
  return all;
}

bool Built(const PlanInput& in) { return in.state && in.state->data_version > 0; }

}  // namespace

// Everything this table built from such an upstream is stale.
std::string RewrittenUpstream(const PlanInput& in) {
  if (!in.state) return "";
  for (const auto& up : in.upstream) {
    if (up.is_source || !up.exists) continue;
    auto it = in.state->inputs.find(up.name);
    if (it == in.state->inputs.end() || !it->is_object()) continue;
    const nlohmann::json& seen = *it;
    if (seen.value("definition_hash", up.definition_hash) != up.definition_hash) return up.name;
    if (seen.value("version", up.version) < up.version) return up.name;
  }
  return "";
}

TableState StateAfter(const TableDef& def, const TableState& before, const Plan& plan,
                      const std::vector<Window>& written, const std::string& definition_hash,
                      const nlohmann::json& inputs) {
  TableState next = before;
  next.table = def.qualified_name();
  next.definition_hash = definition_hash;
  next.data_version += 1;
  next.inputs = inputs;
  switch (def.strategy) {
    case Strategy::kReplace:
      if (plan.rewrites) next.version += 1;
      next.complete_through = plan.complete_through;
      return next;
    case Strategy::kView:
      if (plan.action == Action::kRebuild) next.version += 1;
      next.complete_through = plan.complete_through;
      return next;
    case Strategy::kAppend:
    case Strategy::kMerge:
      break;
  }
  if (plan.action == Action::kRebuild) {
    next.version += 1;
    next.completed = IntervalSet();
  }
  for (const auto& w : written) next.completed.Add(w);
  Timestamp start = FloorToPeriod(*def.start, def.schedule);
  Timestamp end = next.completed.ContiguousEnd(start);
  next.complete_through = end > start ? std::optional<Timestamp>(end) : std::nullopt;
  return next;
}

namespace {

Plan PlanReplace(const PlanInput& in) {
  Plan plan;
  const TableDef& def = *in.def;
  if (!InputsExist(in, &plan)) return plan;
  std::optional<Timestamp> complete = ReplaceCompleteThrough(def, in.upstream, in.now);
  // Before its inputs are complete for any period the table is still built, so users
  // see it; its window then ends at the current period.
  Timestamp end = complete ? *complete : FloorToPeriod(in.now, def.schedule);
  Batch b;
  b.write = b.read = WindowEndingAt(end, def.window);
  b.initial = !Built(in);
  plan.complete_through = complete;
  plan.ready_through = complete;
  auto build = [&](std::string reason, bool rewrites) {
    plan.action = Action::kReplace;
    plan.reason = std::move(reason);
    plan.batches = {b};
    plan.rewrites = rewrites;
    return plan;
  };
  if (!Built(in)) return build("new table", true);
  if (in.state->definition_hash != in.definition_hash) return build("definition changed", true);
  if (std::string up = RewrittenUpstream(in); !up.empty()) {
    return build(fmt::format("upstream {} was rebuilt", up), true);
  }
  const std::optional<Timestamp>& recorded = in.state->complete_through;
  if (complete && (!recorded || *complete > *recorded)) {
    return build(fmt::format("inputs complete through {}", FormatIso(*complete)), false);
  }
  // Up to date: say what the next rebuild waits for.
  Timestamp next = NextBoundary(recorded ? *recorded : FloorToPeriod(in.now, def.schedule), def.schedule);
  plan.action = Action::kWait;
  if (CompleteThrough(in, next, &plan) && in.now < next) {
    plan.reason = fmt::format("up to date: complete through {}; the next period ends {}, after now", Through(recorded),
                              FormatIso(next));
  } else {
    plan.reason = fmt::format("up to date: complete through {}; the next rebuild {}", Through(recorded), plan.reason);
  }
  return plan;
}

Plan PlanView(const PlanInput& in) {
  Plan plan;
  const TableDef& def = *in.def;
  if (!InputsExist(in, &plan)) return plan;
  std::optional<Timestamp> live = InputsCompleteThrough(in.upstream);
  plan.complete_through = live;
  plan.ready_through = live;
  auto act = [&](Action a, std::string reason) {
    plan.action = a;
    plan.reason = std::move(reason);
    return plan;
  };
  if (!Built(in)) return act(Action::kCreate, "new view");
  if (in.state->definition_hash != in.definition_hash) return act(Action::kRebuild, "definition changed");
  if (std::string up = RewrittenUpstream(in); !up.empty()) {
    return act(Action::kRebuild, fmt::format("upstream {} was rebuilt", up));
  }
  const std::optional<Timestamp>& tested = in.state->complete_through;
  if (!def.tests.empty() && live && (!tested || *live > *tested)) {
    return act(Action::kTest, fmt::format("inputs complete through {}", FormatIso(*live)));
  }
  plan.action = Action::kWait;
  plan.reason = def.tests.empty() ? fmt::format("up to date: a view, complete through {} as its inputs", Through(live))
                                  : fmt::format("up to date: a view, tested through {}", Through(tested));
  return plan;
}

}  // namespace

std::optional<Timestamp> InputsCompleteThrough(const std::vector<UpstreamStatus>& upstream) {
  std::optional<Timestamp> through = kEndOfTime;
  for (const auto& up : upstream) {
    if (!up.gates()) continue;
    if (!up.complete_through) return std::nullopt;
    through = std::min(*through, *up.complete_through);
  }
  return through;
}

std::optional<Timestamp> ReplaceCompleteThrough(const TableDef& def, const std::vector<UpstreamStatus>& upstream,
                                                Timestamp now) {
  std::optional<Timestamp> inputs = InputsCompleteThrough(upstream);
  if (!inputs) return std::nullopt;
  return FloorToPeriod(std::min(now, *inputs), def.schedule);
}

std::optional<Timestamp> ViewCompleteThrough(const TableDef& def, const TableState* state,
                                             const std::vector<UpstreamStatus>& upstream) {
  std::optional<Timestamp> live = InputsCompleteThrough(upstream);
  if (def.tests.empty() || !live) return live;
  if (!state || !state->complete_through) return std::nullopt;
  return std::min(*live, *state->complete_through);
}

Plan PlanTable(const PlanInput& in) {
  const TableDef& def = *in.def;
  if (def.strategy == Strategy::kReplace) return PlanReplace(in);
  if (def.strategy == Strategy::kView) return PlanView(in);

  Plan plan;
  Timestamp start = FloorToPeriod(*def.start, def.schedule);
  bool built = Built(in);
  bool changed = built && in.state->definition_hash != in.definition_hash;
  std::string rewritten = built && !changed ? RewrittenUpstream(in) : "";
  bool fresh = !built || changed || !rewritten.empty();
  Timestamp from = fresh ? start : in.state->completed.ContiguousEnd(start);
  Timestamp next_end = NextBoundary(from, def.schedule);

  if (!InputsExist(in, &plan)) return plan;
  (void)CompleteThrough(in, next_end, &plan);
  std::optional<Timestamp> inputs = InputsCompleteThrough(in.upstream);
  Timestamp limit = inputs ? std::min(*inputs, in.now) : from;
  Timestamp ready = std::max(from, FloorToPeriod(limit, def.schedule));
  if (ready > from) plan.ready_through = ready;
  if (ready <= from) {
    plan.action = Action::kWait;
    if (plan.reason.empty()) plan.reason = fmt::format("next window ends {}, after now", FormatIso(next_end));
    return plan;
  }
  plan.waiting_on.clear();
  plan.reason.clear();
  if (int64_t n = CountPeriods(from, ready, def.schedule); n > in.max_windows) {
    plan.action = Action::kWait;
    plan.refused = TooManyWindows(def, n, from, ready, in.max_windows);
    plan.reason = plan.refused;
    return plan;
  }
  if (fresh && built) {
    plan.action = Action::kRebuild;
    plan.reason = changed ? "definition changed" : fmt::format("upstream {} was rebuilt", rewritten);
  } else {
    plan.action = fresh ? Action::kCreate : Action::kAppend;
  }
  if (fresh && in.initial_sql_differs) {
    // The template reads differently on its first build: one query for all of history.
    plan.batches = MakeBatches(def, from, ready, 1 << 30, true);
  } else {
    plan.batches = MakeBatches(def, from, ready, BatchSize(def, in.window_as_value), fresh);
  }
  return plan;
}

Result<std::optional<Repair>> PlanRepair(const RepairInput& in) {
  using Out = std::optional<Repair>;
  const TableDef& def = *in.def;
  if (!in.state || in.state->data_version == 0) return Out();  // nothing built to repair
  const TableState& state = *in.state;
  if (state.definition_hash != in.definition_hash) return Out();  // `run` rebuilds it anyway
  Plan plan;
  if (def.strategy == Strategy::kView) {
    if (in.explicit_windows) {
      return Error(fmt::format("{} is a view: it has no windows to recompute and always shows its inputs; backfill "
                               "the tables it reads",
                               def.qualified_name()));
    }
    // Nothing stored: the change shows through at once. Its tests look at it again.
    if (!def.tests.empty()) {
      plan.action = Action::kTest;
      plan.reason = "inputs restated";
      plan.complete_through = state.complete_through;
    }
    return Out(Repair{plan, in.changed});
  }
  if (def.strategy == Strategy::kReplace) {
    Timestamp end = state.complete_through ? *state.complete_through : FloorToPeriod(in.now, def.schedule);
    Batch b;
    b.write = b.read = WindowEndingAt(end, def.window);
    // A change upstream at or past the table's completeness changes nothing it claims to
    // hold: its next rebuild reads it. (Before it, any change may matter: its SQL may
    // read all of history, whatever its window.)
    if (!in.explicit_windows && state.complete_through && !(in.changed.start < *state.complete_through)) return Out();
    plan.action = Action::kReplace;
    plan.batches = {b};
    plan.complete_through = state.complete_through;
    plan.rewrites = true;
    return Out(Repair{plan, kAllTime});
  }
  Timestamp start = FloorToPeriod(*def.start, def.schedule);
  Timestamp done = state.completed.ContiguousEnd(start);
  Timestamp lo, hi;
  const Window& changed = in.changed;
  if (in.explicit_windows) {
    lo = FloorToPeriod(changed.start, def.schedule);
    hi = FloorToPeriod(changed.end, def.schedule) == changed.end ? changed.end : NextBoundary(changed.end, def.schedule);
  } else {
    // The periods whose read range [end - window, end) overlaps what changed upstream:
    // end > changed.start and end < changed.end + window.
    if (!(changed.start < done) || !(start < changed.end)) return Out();
    lo = FloorToPeriod(std::max(changed.start, start), def.schedule);
    Timestamp past = Add(std::min(changed.end, done), def.window);
    hi = FloorToPeriod(Timestamp{past.seconds - 1}, def.schedule);
  }
  lo = std::max(lo, start);
  hi = std::min(hi, done);
  if (!(lo < hi)) {
    if (in.explicit_windows) {
      return Error(fmt::format("{} has no completed windows in [{}, {}): it is built from {} through {}",
                               def.qualified_name(), FormatIso(changed.start), FormatIso(changed.end),
                               FormatIso(start), FormatIso(done)));
    }
    return Out();
  }
  if (int64_t n = CountPeriods(def.strategy == Strategy::kMerge ? start : lo, def.strategy == Strategy::kMerge ? done : hi,
                               def.schedule);
      n > in.max_windows) {
    return Error(TooManyWindows(def, n, def.strategy == Strategy::kMerge ? start : lo,
                                def.strategy == Strategy::kMerge ? done : hi, in.max_windows));
  }
  if (def.strategy == Strategy::kMerge) {
    // Re-merging corrected windows cannot take back what the old rows contributed (a
    // min stays low, a sum double counts), so a merge table is rebuilt from scratch
    // into a new version and swapped in.
    plan.action = Action::kRebuild;
    plan.reason = "merge table rebuilt from scratch: re-merging corrected windows cannot take back old rows";
    plan.batches = MakeBatches(def, start, done, BatchSize(def, in.window_as_value), true);
    return Out(Repair{plan, kAllTime});
  }
  plan.action = Action::kAppend;
  plan.batches = MakeBatches(def, lo, hi, BatchSize(def, in.window_as_value), false);
  return Out(Repair{plan, Window{lo, hi}});
}

}  // namespace derived
