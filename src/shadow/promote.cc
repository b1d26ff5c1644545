#include "shadow/promote.h"

#include <set>

#include <fmt/format.h>

#include "engine/definition_hash.h"
#include "engine/engine.h"
#include "shadow/environment.h"
#include "shadow/plan.h"

namespace derived::shadow {
namespace {

// The project's views that read `table`, directly or through others: made again after a
// swap (TableWriter::SwapIn).
std::set<std::string> ViewsReading(const CompiledProject& cp, const std::string& table) {
  std::set<std::string> out;
  auto id = cp.graph.Find(table);
  if (!id) return out;
  for (int down : cp.graph.DownstreamClosure(*id)) {
    const CompiledTable* reader = cp.FindTable(cp.graph.node(down).name);
    if (reader && cp.def(*reader).strategy == Strategy::kView) out.insert(cp.graph.node(down).name);
  }
  return out;
}

}  // namespace

Result<std::vector<Promotion>> Promote(const CompiledProject& project, std::unique_ptr<Warehouse> wh,
                                       std::string_view env, Timestamp now) {
  auto built = BuiltTables(*wh, env);
  if (!built.ok()) return built.error();
  auto an = AnalyzeProject(project);
  auto engine = Engine::Open(an, std::move(wh), now);
  if (!engine.ok()) return engine.error();
  if (auto st = (*engine)->LoadSources(); !st.ok()) return st.error();
  Warehouse& session = (*engine)->warehouse();
  MetadataStore& production = (*engine)->metadata();
  MetadataStore shadow(&session, an->provenance, MetadataSchemaOf(env));
  const std::string prefix = fmt::format("shadow__{}__", env);
  const std::string run_id = NewRunId();

  std::vector<Promotion> out;
  std::map<std::string, TableState> promoted;  // production's name -> its state now
  for (int id : project.order) {
    const std::string name = project.graph.node(id).name;
    auto b = built->find(name);
    if (b == built->end()) continue;
    const CompiledTable* t = project.FindTable(name);
    if (!t) continue;
    const TableDef& def = project.def(*t);
    auto [dataset, table] = SplitName(name);
    const std::string shadow_name = SchemaOf(env, dataset) + "." + table;
    Promotion p{name, false, "", 0};
    auto refuse = [&](std::string why) {
      p.why = std::move(why);
      out.push_back(p);
    };
    if (def.strategy == Strategy::kView) {
      refuse("a view is made again, not promoted");
      continue;
    }
    const nlohmann::json& details = b->second;
    const std::string outcome = DetailText(details, "outcome");
    if (an->broken.count(name)) {
      refuse("its definition has errors: " + an->broken.at(name));
      continue;
    }
    if (outcome != StepStatusName(StepStatus::kBuilt) && outcome != StepStatusName(StepStatus::kUpToDate)) {
      refuse(fmt::format("the environment's last build of it ended {}", outcome.empty() ? "unknown" : outcome));
      continue;
    }
    if (DetailNumber(details, "sample_percent")) {
      refuse("the environment built it from a sample of its inputs");
      continue;
    }
    if (!DetailFlag(details, "full")) {
      refuse(fmt::format("the environment built it from {} only (--last), not in full", DetailText(details, "from")));
      continue;
    }
    if (DetailText(details, "branch_hash") != an->hashes.at(name)) {
      refuse("the environment built another definition of it than production now has");
      continue;
    }
    // Production's tests are the ones the environment's build passed.
    if (DetailText(details, "tests_hash") != an->tests_hashes.at(name)) {
      refuse("production's tests of it are not the ones the environment ran");
      continue;
    }
    std::vector<std::string> names = {name};
    auto prod_states = production.LoadStates(&names);
    if (!prod_states.ok()) return prod_states.error();
    TableState base;
    if (auto it = prod_states->find(name); it != prod_states->end()) base = it->second;
    names = {shadow_name};
    auto env_states = shadow.LoadStates(&names);
    if (!env_states.ok()) return env_states.error();
    auto es = env_states->find(shadow_name);
    if (es == env_states->end() || es->second.last_status != RunStatusName(RunStatus::kSuccess) ||
        es->second.definition_hash != DetailText(details, "environment_hash")) {
      refuse("the environment holds no successful build of that definition");
      continue;
    }
    const TableState& built_state = es->second;
    // Every input as the environment's build read it, still.
    std::string differs;
    nlohmann::json inputs = nlohmann::json::object();
    for (const auto& [input, read] : built_state.inputs.items()) {
      if (input.rfind(prefix, 0) == 0) {
        std::string own = input.substr(prefix.size());  // production's name of the environment's input
        std::vector<std::string> one = {input};
        auto now_state = shadow.LoadStates(&one);
        if (!now_state.ok()) return now_state.error();
        auto it = promoted.find(own);
        auto read_version = read.find("data_version");
        bool same = it != promoted.end() && now_state->count(input) && read_version != read.end() &&
                    read_version->is_number_integer() &&
                    now_state->at(input).data_version == read_version->get<int64_t>();
        if (!same) {
          differs = fmt::format("its input {} was not promoted with it, or changed since it was read", own);
          break;
        }
        UpstreamStatus u;
        u.name = own;
        u.Take(it->second);
        inputs[own] = u.Snapshot();
        continue;
      }
      nlohmann::json current = (*engine)->InputSnapshot(input);
      if (current != read) {
        differs = fmt::format("its input {} is not as the environment read it (then {}, now {})", input, read.dump(),
                              current.dump());
        break;
      }
      inputs[input] = read;
    }
    if (!differs.empty()) {
      refuse(differs);
      continue;
    }
    if (base.stored && base.definition_hash == an->hashes.at(name) && base.inputs == inputs) {
      refuse("production has built this definition from these inputs already");
      continue;
    }

    TableState next = built_state;
    next.table = name;
    next.definition_hash = an->hashes.at(name);
    next.version = base.version + 1;
    next.data_version = base.data_version + 1;
    next.inputs = inputs;
    next.last_run_id = run_id;
    next.config["file"] = def.file;
    next.config["metadata_hash"] = MetadataHash(def);
    next.config["tests_hash"] = TestsHash(def);
    LogEntry e = LogEntry::Begin(run_id, name, next.definition_hash, "promote", now);
    e.inputs = inputs;
    Status st = InTransaction(session, [&]() -> Status {
      TableWriter& w = session.writer();
      if (auto s = w.DropStaging(def); !s.ok()) return s;
      auto [sds, stable] = SplitName(shadow_name);
      auto query = session.CheckQuery("SELECT * FROM " + session.dialect().Table(sds, stable));
      if (!query.ok()) return query.error();
      auto columns = session.DescribeQuery(*query);
      if (!columns.ok()) return columns.error();
      WriteTarget target{&def, std::move(*columns), {}};
      auto rows = w.CreateStaging(*query, target);
      if (!rows.ok()) return rows.error().error;
      p.rows = *rows;
      auto old_rows = w.SwapIn(def, ViewsReading(project, name));
      if (!old_rows.ok()) return old_rows.error();
      e.rows_inserted = *rows;
      e.rows_deleted = *old_rows;
      e.finished_at = WallSeconds();
      e.details = {{"environment", std::string(env)}, {"from", shadow_name}};
      return production.Record(e, next, base);
    });
    if (!st.ok()) {
      refuse("the swap failed, nothing changed: " + st.error().message);
      continue;
    }
    next.stored = true;
    promoted[name] = next;
    p.promoted = true;
    p.why = fmt::format("swapped in from {}", shadow_name);
    out.push_back(p);
  }
  return out;
}

}  // namespace derived::shadow
