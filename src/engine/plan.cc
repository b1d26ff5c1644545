#include "engine/plan.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace derived {

nlohmann::json UpstreamStatus::Snapshot() const {
  nlohmann::json j = {{"kind", is_source ? "source" : "table"}};
  j["watermark"] = watermark ? nlohmann::json(FormatIso(*watermark)) : nlohmann::json(nullptr);
  if (!is_source) {
    j["data_version"] = data_version;
    j["version"] = version;
    j["definition_hash"] = definition_hash;
  }
  return j;
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kWait: return "wait";
    case Action::kCreate: return "create";
    case Action::kAppend: return "append";
    case Action::kReplace: return "replace";
    case Action::kRebuild: return "rebuild";
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

// The point through which every gating upstream is complete, or nullopt when one has
// nothing yet. Fills the plan's waiting list with the upstreams that hold back `needed`.
std::optional<Timestamp> GateThrough(const PlanInput& in, Timestamp needed, Plan* plan) {
  std::optional<Timestamp> gate = in.now;
  for (const auto& up : in.upstream) {
    if (!up.gates()) {
      if (!up.exists) {
        plan->waiting_on.push_back(up.name);
        gate.reset();
        if (plan->reason.empty()) plan->reason = fmt::format("waits for {} to be built", up.name);
      }
      continue;
    }
    if (!up.watermark || *up.watermark < needed) {
      plan->waiting_on.push_back(up.name);
      if (plan->reason.empty()) {
        std::string have = up.watermark ? "complete through " + FormatIso(*up.watermark)
                                        : (up.problem.empty() ? "no data yet" : up.problem);
        plan->reason = fmt::format("waits for {} ({}; needs {})", up.name, have, FormatIso(needed));
      }
    }
    if (!up.watermark) {
      gate.reset();
    } else if (gate) {
      gate = std::min(*gate, *up.watermark);
    }
  }
  return gate;
}

// The upstream table whose history was rewritten since this table last read it: built
// from a new definition, or (append and merge) rebuilt into a new version. Everything
// this table built from it is stale. Empty when there is none.
std::string RewrittenUpstream(const PlanInput& in) {
  if (!in.state) return "";
  for (const auto& up : in.upstream) {
    if (up.is_source || !up.exists) continue;
    auto it = in.state->inputs.find(up.name);
    if (it == in.state->inputs.end() || !it->is_object()) continue;
    const nlohmann::json& seen = *it;
    if (seen.value("definition_hash", up.definition_hash) != up.definition_hash) return up.name;
    if (up.strategy != Strategy::kReplace && seen.value("version", up.version) < up.version) return up.name;
  }
  return "";
}

Plan PlanReplace(const PlanInput& in) {
  Plan plan;
  const TableDef& def = *in.def;
  Timestamp period_end = FloorToPeriod(in.now, def.schedule);
  std::optional<Timestamp> gate = GateThrough(in, period_end, &plan);
  if (!gate || *gate < period_end) {
    plan.action = Action::kWait;
    return plan;
  }
  plan.waiting_on.clear();
  plan.ready_through = period_end;
  Batch b;
  b.write = b.read = {Add(period_end, def.window, -1), period_end};
  bool built = in.state && in.state->data_version > 0;
  b.initial = !built;
  plan.batches = {b};
  if (!built) {
    plan.action = Action::kReplace;
    plan.reason = "new table";
    return plan;
  }
  if (in.state->definition_hash != in.definition_hash) {
    plan.action = Action::kReplace;
    plan.reason = "definition changed";
    return plan;
  }
  if (std::string up = RewrittenUpstream(in); !up.empty()) {
    plan.action = Action::kReplace;
    plan.reason = fmt::format("upstream {} was rebuilt", up);
    return plan;
  }
  if (in.state->built_period && *in.state->built_period >= period_end) {
    plan.action = Action::kWait;
    plan.reason = fmt::format("up to date for the period ending {}", FormatIso(period_end));
    return plan;
  }
  // A new period has started; rebuild only when an input changed since the last build.
  for (const auto& up : in.upstream) {
    auto it = in.state->inputs.find(up.name);
    if (it == in.state->inputs.end() || *it != up.Snapshot()) {
      plan.action = Action::kReplace;
      plan.reason = fmt::format("{} has new data", up.name);
      return plan;
    }
  }
  plan.action = Action::kWait;
  plan.reason = "no input has new data since the last build";
  return plan;
}

}  // namespace

Plan PlanTable(const PlanInput& in) {
  const TableDef& def = *in.def;
  if (def.strategy == Strategy::kReplace) return PlanReplace(in);

  Plan plan;
  Timestamp start = FloorToPeriod(*def.start, def.schedule);
  bool built = in.state && in.state->data_version > 0;
  bool changed = built && in.state->definition_hash != in.definition_hash;
  std::string rewritten = built && !changed ? RewrittenUpstream(in) : "";
  bool fresh = !built || changed || !rewritten.empty();
  Timestamp from = fresh ? start : in.state->completed.ContiguousEnd(start);
  Timestamp next_end = NextBoundary(from, def.schedule);

  std::optional<Timestamp> gate = GateThrough(in, next_end, &plan);
  Timestamp limit = gate ? std::min(*gate, in.now) : from;
  Timestamp ready = std::max(from, FloorToPeriod(limit, def.schedule));
  if (ready > from) plan.ready_through = ready;
  if (ready <= from) {
    plan.action = Action::kWait;
    if (plan.reason.empty()) plan.reason = fmt::format("next window ends {}, after now", FormatIso(next_end));
    return plan;
  }
  plan.waiting_on.clear();
  plan.reason.clear();
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

}  // namespace derived
