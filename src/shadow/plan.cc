#include "shadow/plan.h"

#include <algorithm>

#include <fmt/format.h>

namespace derived::shadow {

namespace {
constexpr size_t kMaxEnvLength = 24;  // leaves 29 bytes of a 63-byte schema name to the dataset
}  // namespace

Status CheckEnvironmentName(std::string_view env) {
  if (env.empty() || env.size() > kMaxEnvLength) {
    return Error(fmt::format("environment name '{}' must be 1 to {} characters long", env, kMaxEnvLength));
  }
  if (env[0] < 'a' || env[0] > 'z') return Error(fmt::format("environment name '{}' must start with a-z", env));
  for (char c : env) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return Error(fmt::format("environment name '{}' may hold only a-z, 0-9 and _", env));
    }
  }
  if (env.find("__") != std::string_view::npos || env.back() == '_') {
    return Error(fmt::format("environment name '{}' may not hold \"__\" or end with _ (it separates the parts of "
                             "shadow schema names)",
                             env));
  }
  return Status::Ok();
}

std::pair<std::string, std::string> SplitName(const std::string& qualified) {
  size_t dot = qualified.find('.');
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

std::string SchemaOf(std::string_view env, std::string_view dataset) {
  return fmt::format("shadow__{}__{}", env, dataset);
}

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNew: return "new";
    case Reason::kChanged: return "changed";
    case Reason::kDownstream: return "downstream";
    case Reason::kTests: return "tests";
  }
  return "?";
}

bool ShadowPlan::Builds(std::string_view table) const {
  return std::any_of(tables.begin(), tables.end(), [&](const PlannedTable& t) { return t.table == table; });
}

std::map<std::string, sql::TableRef> ShadowPlan::RedirectFor(std::string_view dataset) const {
  std::map<std::string, sql::TableRef> out;
  for (const auto& t : tables) {
    auto [ds, name] = SplitName(t.table);
    sql::TableRef to{"", SchemaOf(env, ds), name, 0};
    out[t.table] = to;
    if (ds == dataset) out[name] = to;
  }
  return out;
}

Result<ShadowPlan> Plan(const Graph& graph, const std::map<std::string, std::string>& branch,
                        const std::map<std::string, std::string>& production, std::string_view env,
                        const std::set<std::string>& tests_changed) {
  if (auto st = CheckEnvironmentName(env); !st.ok()) return st.error();
  auto order = graph.TopologicalOrder();
  if (!order.ok()) return order.error();
  ShadowPlan plan;
  plan.env = std::string(env);
  // Per node: the new or changed table it is built for (itself, or the nearest upstream).
  std::vector<std::string> cause(graph.size());
  for (int id : *order) {
    const Node& n = graph.node(id);
    if (n.kind != NodeKind::kTable) continue;
    auto mine = branch.find(n.name);
    if (mine == branch.end()) return Error(fmt::format("no definition hash for {}", n.name));
    auto theirs = production.find(n.name);
    PlannedTable t{n.name, Reason::kChanged, ""};
    if (theirs == production.end()) {
      t.reason = Reason::kNew;
    } else if (theirs->second == mine->second) {
      // Unchanged: built only when something it reads is (the first such input, by name).
      for (int up : graph.upstream(id)) {
        if (!cause[up].empty()) {
          t.reason = Reason::kDownstream;
          t.because = cause[up];
          break;
        }
      }
      if (t.because.empty()) {
        if (!tests_changed.count(n.name)) continue;
        t.reason = Reason::kTests;  // its data, so its readers', stays the same
        plan.tables.push_back(std::move(t));
        continue;
      }
    }
    cause[id] = t.reason == Reason::kDownstream ? t.because : n.name;
    plan.tables.push_back(std::move(t));
  }
  for (const auto& [table, hash] : production) {
    if (!branch.count(table)) plan.removed.push_back(table);
  }
  return plan;
}

}  // namespace derived::shadow
