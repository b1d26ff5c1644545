#include "shadow/environment.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "sql/parser.h"
#include "util/strings.h"

namespace derived::shadow {
namespace {

constexpr std::string_view kPrefix = "shadow__";
// The table name of an environment's own log rows (a build's start).
constexpr const char* kEnvironmentLogName = "_environment";
// PostgreSQL's longest identifier; DuckDB takes longer ones, but an environment should
// mean the same on either engine.
constexpr size_t kMaxSchemaBytes = 63;
// One fixed seed: a sampled build reads the same rows every time.
constexpr int64_t kSampleSeed = 20240101;

// The environment a schema belongs to ("" for none): shadow__ENV__REST.
std::string EnvOfSchema(std::string_view schema) {
  if (schema.substr(0, kPrefix.size()) != kPrefix) return "";
  std::string_view rest = schema.substr(kPrefix.size());
  size_t sep = rest.find("__");
  if (sep == std::string_view::npos || sep == 0) return "";
  std::string env(rest.substr(0, sep));
  // Any schema of such a name is not one Derived made: never read, never dropped.
  return CheckEnvironmentName(env).ok() ? env : "";
}

// What production's state records of every table it has built, as a base. A state
// written before tests were hashed apart says only whether the metadata, tests included,
// is the branch's: then a changed description counts as changed tests too.
Result<BuildOptions::Base> ProductionBase(Warehouse& wh, const ProjectAnalysis& branch) {
  BuildOptions::Base out;
  auto cols = wh.Columns(kMetaSchema, "state");
  if (!cols.ok()) return cols.error();
  if (!cols->has_value()) return out;  // nothing built yet: every table is new
  MetadataStore production(&wh, Provenance{});
  auto states = production.LoadStates();
  if (!states.ok()) return states.error();
  for (const auto& [name, st] : *states) {
    // A table removed from the project keeps its state until it is dropped: not a definition.
    if (st.config.contains("removed_at")) continue;
    out.hashes[name] = st.definition_hash;
    if (st.config.contains("tests_hash")) {
      out.tests[name] = DetailText(st.config, "tests_hash");
    } else if (auto m = branch.metadata_hashes.find(name); m != branch.metadata_hashes.end()) {
      bool same = DetailText(st.config, "metadata_hash") == m->second;
      out.tests[name] = same ? branch.tests_hashes.at(name) : "unknown";
    }
  }
  return out;
}

// How each environment table's query is read: per dataset of the environment, every
// name its tables can write for another table or source.
std::map<std::string, std::map<std::string, sql::TableRef>> Redirections(const Graph& graph, const ShadowPlan& plan) {
  std::map<std::string, std::map<std::string, sql::TableRef>> out;
  for (const auto& t : plan.tables) {
    const std::string dataset = SplitName(t.table).first;
    auto [it, fresh] = out.try_emplace(SchemaOf(plan.env, dataset));
    if (!fresh) continue;
    it->second = plan.RedirectFor(dataset);
    // Unqualified names resolve against the table's own dataset, which is now the
    // environment's schema: what it does not build there is production's.
    for (const Node& n : graph.nodes()) {
      if (n.dataset == dataset && !plan.Builds(n.name)) it->second[n.table] = sql::TableRef{"", n.dataset, n.table, 0};
    }
  }
  return out;
}

// The rewrite of every query of the environment's tables, on a parser of its own.
class Redirector {
 public:
  // `sample_percent`: replace tables read that share of what they read from production.
  static Result<std::shared_ptr<Redirector>> Create(const Graph& graph, const ShadowPlan& plan,
                                                    sql::SqlParser::Printing printing,
                                                    std::optional<double> sample_percent) {
    auto r = std::shared_ptr<Redirector>(new Redirector());
    auto parser = sql::StandaloneParser::Open();
    if (!parser.ok()) return parser.error();
    r->parser_ = std::move(*parser);
    r->maps_ = Redirections(graph, plan);
    r->printing_ = printing;
    if (sample_percent) {
      for (const auto& [schema, map] : r->maps_) {
        sql::SqlParser::Sample& s = r->samples_[schema];
        s.percent = *sample_percent;
        s.seed = kSampleSeed;
        for (const Node& n : graph.nodes()) {
          if (plan.Builds(n.name)) continue;
          s.tables.insert(n.name);
          if (SchemaOf(plan.env, n.dataset) == schema) s.tables.insert(n.table);
        }
      }
    }
    return r;
  }

  Result<std::string> Rewrite(const TableDef& def, const std::string& sql) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = maps_.find(def.dataset);
    if (it == maps_.end()) return sql;  // not an environment table
    auto sample = samples_.find(def.dataset);
    const bool sampled = def.strategy == Strategy::kReplace && sample != samples_.end();
    auto out = parser_->get().Redirect(sql, it->second, printing_, sampled ? &sample->second : nullptr);
    if (!out.ok()) return Error("cannot read it from the shadow environment: " + out.error().message);
    return out;
  }

 private:
  Redirector() = default;
  std::mutex mu_;
  std::unique_ptr<sql::StandaloneParser> parser_;
  std::map<std::string, std::map<std::string, sql::TableRef>> maps_;
  std::map<std::string, sql::SqlParser::Sample> samples_;  // by schema, when sampling
  sql::SqlParser::Printing printing_ = sql::SqlParser::Printing::kTree;
};

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string MetadataSchemaOf(std::string_view env) { return SchemaOf(env, kMetaSchema); }

int BuildReport::failures() const {
  int n = 0;
  for (const auto& t : tables) n += t.outcome.failed() || t.outcome.status == StepStatus::kSkipped ? 1 : 0;
  return n;
}

Result<BuildReport> Build(CompiledProject branch, std::unique_ptr<Warehouse> wh, const BuildOptions& options,
                          const ProgressFn& progress) {
  auto t0 = std::chrono::steady_clock::now();
  if (auto st = CheckEnvironmentName(options.env); !st.ok()) return st.error();
  auto branch_an = AnalyzeProject(branch);
  const auto& branch_hashes = branch_an->hashes;
  auto base = options.base ? Result<BuildOptions::Base>(*options.base) : ProductionBase(*wh, *branch_an);
  if (!base.ok()) return base.error();
  std::set<std::string> tests_changed;
  for (const auto& [name, hash] : branch_an->tests_hashes) {
    auto it = base->tests.find(name);
    if (it != base->tests.end() && it->second != hash) tests_changed.insert(name);
  }
  auto plan = Plan(branch.graph, branch_hashes, base->hashes, options.env, tests_changed);
  if (!plan.ok()) return plan.error();

  BuildReport report;
  report.plan = *plan;
  report.last = options.last;
  report.sample_percent = options.sample_percent;
  report.now = options.now;
  std::map<std::string, std::string> to;
  for (const auto& t : plan->tables) {
    std::string schema = SchemaOf(plan->env, SplitName(t.table).first);
    if (schema.size() > kMaxSchemaBytes) {
      return Error(fmt::format("the environment's schema for {} would be {} ({} bytes; at most {}): choose a shorter "
                               "environment name",
                               t.table, schema, schema.size(), kMaxSchemaBytes));
    }
    to[t.table] = schema;
  }
  auto redirector = Redirector::Create(
      branch.graph, *plan,
      wh->engine() == "duckdb" ? sql::SqlParser::Printing::kTree : sql::SqlParser::Printing::kInPlace,
      options.sample_percent);
  if (!redirector.ok()) return redirector.error();

  auto cp = std::make_shared<CompiledProject>(std::move(branch));
  cp->Relocate(to);
  std::vector<std::string> names;
  for (const auto& t : plan->tables) {
    BuiltTable b;
    b.planned = t;
    b.shadow_name = to.at(t.table) + "." + SplitName(t.table).second;
    auto at = std::find_if(cp->project.tables.begin(), cp->project.tables.end(),
                           [&](const TableDef& d) { return d.qualified_name() == b.shadow_name; });
    if (at == cp->project.tables.end()) return Error(fmt::format("{} is not in the project after its move", b.shadow_name));
    TableDef* def = &*at;
    b.strategy = std::string(StrategyName(def->strategy));
    // The cost bound: an append or merge table's windows begin at the period holding
    // now - last (a replace table and a view are built whole, whatever it says).
    if (options.last && (def->strategy == Strategy::kAppend || def->strategy == Strategy::kMerge)) {
      // At least the last whole period, for a schedule longer than `last`.
      Timestamp from = FloorToPeriod(Add(options.now, *options.last, -1), def->schedule);
      Timestamp last_whole = Add(FloorToPeriod(options.now, def->schedule), PeriodOf(def->schedule), -1);
      if (last_whole.seconds < from.seconds) from = last_whole;
      if (!def->start || def->start->seconds < from.seconds) def->start = from;
      b.from = def->start;
    }
    // PostgreSQL binds a view to what it reads, and a production table's swap remakes
    // every view that reads it: an environment's view there would hold production's
    // builds hostage. The environment keeps its rows in a table instead.
    if (def->strategy == Strategy::kView && wh->engine() != "duckdb") def->strategy = Strategy::kReplace;
    b.sampled = options.sample_percent && def->strategy == Strategy::kReplace;
    names.push_back(b.shadow_name);
    report.tables.push_back(std::move(b));
  }
  if (names.empty()) {  // nothing to build, and nothing built before to forget
    auto there = wh->Columns(MetadataSchemaOf(plan->env), "state");
    if (!there.ok()) return there.error();
    if (!there->has_value()) {
      report.seconds = SecondsSince(t0);
      return report;
    }
  }

  std::shared_ptr<const ProjectAnalysis> an = AnalyzeProject(*cp);
  // The analysis points into the project: both live as long as the engine.
  auto owner = std::make_shared<std::pair<std::shared_ptr<CompiledProject>, std::shared_ptr<const ProjectAnalysis>>>(cp, an);
  std::shared_ptr<const ProjectAnalysis> keep(owner, an.get());
  EngineScope scope;
  scope.metadata_schema = MetadataSchemaOf(plan->env);
  scope.rewrite = [r = *redirector](const TableDef& def, const std::string& sql) { return r->Rewrite(def, sql); };
  auto engine = Engine::Open(keep, std::move(wh), options.now, std::move(scope));
  if (!engine.ok()) return engine.error();
  MetadataStore& meta = (*engine)->metadata();
  Warehouse& session = (*engine)->warehouse();
  // Built now: expiry leaves it alone from here on.
  LogEntry start = LogEntry::Begin((*engine)->run_id(), kEnvironmentLogName, "", "shadow_start", options.now);
  start.details = {{"environment", plan->env}};
  if (auto st = InTransaction(session, [&] { return meta.AppendLog(start); }); !st.ok()) return st.error();
  // What it built before that the branch no longer changes goes: it would be production's.
  auto held = meta.TableNames(MetadataStore::NameSource::kState);
  if (!held.ok()) return held.error();
  for (const auto& name : *held) {
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    if (auto st = (*engine)->Drop(name, "the branch no longer changes it"); !st.ok()) return st.error();
  }
  if (auto st = (*engine)->LoadSources(); !st.ok()) return st.error();
  auto run = (*engine)->RunTables(names, progress);
  if (!run.ok()) return run.error();
  report.run_id = run->run_id;
  std::map<std::string, TableOutcome> outcomes;
  for (auto& o : run->tables) outcomes[o.table] = std::move(o);
  for (auto& b : report.tables) {
    auto it = outcomes.find(b.shadow_name);
    b.outcome = it != outcomes.end() ? it->second : TableOutcome{b.shadow_name, StepStatus::kSkipped, "not run", 0, 0, 0};
  }

  // What the environment holds, for diff and promotion: per table, the definition it was
  // built from (the branch's hash, not the moved table's) and what it covers.
  Status logged = InTransaction(session, [&]() -> Status {
    for (const auto& b : report.tables) {
      LogEntry e = LogEntry::Begin(run->run_id, b.shadow_name, an->hashes.at(b.shadow_name), "shadow", options.now);
      e.status = b.outcome.failed() ? RunStatus::kFailed : RunStatus::kSuccess;
      e.error = b.outcome.failed() ? b.outcome.detail : "";
      auto prod = base->hashes.find(b.planned.table);
      e.details = {{"environment", plan->env},
                   {"table", b.planned.table},
                   {"reason", ReasonName(b.planned.reason)},
                   {"because", b.planned.because},
                   {"branch_hash", branch_hashes.at(b.planned.table)},
                   {"environment_hash", an->hashes.at(b.shadow_name)},
                   {"tests_hash", branch_an->tests_hashes.at(b.planned.table)},
                   {"base_hash", prod == base->hashes.end() ? "" : prod->second},
                   {"full", !b.from.has_value() && !b.sampled},
                   {"sample_percent", b.sampled ? nlohmann::json(*options.sample_percent) : nlohmann::json()},
                   {"from", b.from ? FormatIso(*b.from) : ""},
                   {"outcome", StepStatusName(b.outcome.status)}};
      if (auto st = meta.AppendLog(e); !st.ok()) return st;
    }
    return Status::Ok();
  });
  if (!logged.ok()) return Error("the environment was built, but its summary was not logged: " + logged.error().message);
  report.seconds = SecondsSince(t0);
  return report;
}

std::string DetailText(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  return it != details.end() && it->is_string() ? it->get<std::string>() : "";
}

bool DetailFlag(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  return it != details.end() && it->is_boolean() && it->get<bool>();
}

std::optional<double> DetailNumber(const nlohmann::json& details, const char* key) {
  auto it = details.find(key);
  if (it == details.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

Result<std::map<std::string, nlohmann::json>> BuiltTables(Warehouse& wh, std::string_view env) {
  if (auto st = CheckEnvironmentName(env); !st.ok()) return st.error();
  const std::string meta = MetadataSchemaOf(env);
  auto cols = wh.Columns(meta, "log");
  if (!cols.ok()) return cols.error();
  if (!cols->has_value()) {
    return Error(fmt::format("no shadow environment '{}' (build it with `derived shadow build --env {}`)", env, env));
  }
  // The newest build's rows: what the environment holds now.
  auto rows = wh.Query(fmt::format(
      "SELECT CAST(details AS VARCHAR) FROM {0}.log WHERE operation = 'shadow' AND run_id = (SELECT run_id FROM {0}.log "
      "WHERE operation = 'shadow_start' ORDER BY finished_at DESC LIMIT 1)",
      meta));
  if (!rows.ok()) return rows.error();
  std::map<std::string, nlohmann::json> out;
  for (const auto& r : rows->rows) {
    auto j = nlohmann::json::parse(r[0].value_or(""), nullptr, false);
    if (!j.is_object() || !j.contains("table") || !j["table"].is_string()) {
      return Error(fmt::format("{}.log: a 'shadow' row's details are not as Derived writes them", meta));
    }
    out[j["table"].get<std::string>()] = j;
  }
  return out;
}

Result<std::vector<EnvironmentInfo>> List(Warehouse& wh) {
  auto schemas = wh.Schemas(kPrefix);
  if (!schemas.ok()) return schemas.error();
  std::map<std::string, EnvironmentInfo> by_env;
  for (const auto& s : *schemas) {
    std::string env = EnvOfSchema(s);
    if (env.empty()) continue;
    EnvironmentInfo& info = by_env[env];
    info.env = env;
    info.schemas.push_back(s);
  }
  std::vector<EnvironmentInfo> out;
  for (auto& [env, info] : by_env) {
    const std::string meta = MetadataSchemaOf(env);
    auto state = wh.Columns(meta, "state");
    auto log = wh.Columns(meta, "log");
    if (state.ok() && state->has_value()) {
      auto n = wh.Query(fmt::format("SELECT count(*) FROM {}", wh.dialect().Table(meta, "state")));
      if (n.ok() && n->size() == 1 && n->at(0, 0)) info.tables = std::stoi(*n->at(0, 0));
    }
    if (log.ok() && log->has_value()) {
      auto last = wh.Query(
          fmt::format("SELECT {} FROM {}", wh.dialect().IsoText("max(logical_now)"), wh.dialect().Table(meta, "log")));
      if (last.ok() && last->size() == 1 && last->at(0, 0)) {
        if (auto t = ParseTimestamp(*last->at(0, 0)); t.ok()) info.last_built = *t;
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

Status Drop(Warehouse& wh, std::string_view env) {
  if (auto st = CheckEnvironmentName(env); !st.ok()) return st;
  auto envs = List(wh);
  if (!envs.ok()) return envs.error();
  std::vector<std::string> names;
  for (const auto& e : *envs) {
    if (e.env != env) {
      names.push_back(e.env);
      continue;
    }
    // The metadata last: an environment half dropped is still listed, and dropped again.
    std::vector<std::string> order = e.schemas;
    std::stable_partition(order.begin(), order.end(), [&](const std::string& s) { return s != MetadataSchemaOf(env); });
    for (const auto& s : order) {
      if (EnvOfSchema(s) != env) return Error(fmt::format("refusing to drop {}: not of environment {}", s, env));
      if (auto st = wh.DropSchema(s); !st.ok()) return st;
    }
    return Status::Ok();
  }
  return Error(fmt::format("no shadow environment '{}' (there are: {})", env, names.empty() ? "none" : Join(names, ", ")));
}

Result<std::vector<std::string>> Expire(Warehouse& wh, Timestamp now, Duration expire_after, std::string_view keep) {
  auto envs = List(wh);
  if (!envs.ok()) return envs.error();
  std::vector<std::string> dropped;
  for (const auto& e : *envs) {
    if (e.env == keep || !e.last_built || Add(*e.last_built, expire_after).seconds > now.seconds) continue;
    if (auto st = Drop(wh, e.env); !st.ok()) return st.error();
    dropped.push_back(e.env);
  }
  return dropped;
}

}  // namespace derived::shadow
