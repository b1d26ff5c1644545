// `derived shadow build|list|drop`: shadow environments (shadow/environment.h).
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/compile_project.h"
#include "cli/text_table.h"
#include "service/service.h"
#include "shadow/diff.h"
#include "shadow/environment.h"
#include "shadow/promote.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

Timestamp NowOf(const CommonOptions& opts) { return opts.now ? *opts.now : SystemClock().Now(); }

// A session on the project's warehouse: the service's, inside it.
Result<std::unique_ptr<Warehouse>> SessionFor(const CommonOptions& opts, const Project* project) {
  if (opts.service) return opts.service->Connect();
  if (project) return OpenWarehouse(*project);
  auto cp = Compile(opts.project, CompileOptions{opts.threads, false, opts.use_cache, NowOf(opts)});
  if (!cp.ok()) return cp.error();
  return OpenWarehouse(cp->project);
}

// The working tree's project (inside the service: the one it runs from) and a session on
// its warehouse; nullopt once the reason is printed.
struct Branch {
  CompiledProject cp;
  std::unique_ptr<Warehouse> wh;
};
std::optional<Branch> OpenBranch(const CommonOptions& opts, bool type_check, std::ostream& err) {
  CommonOptions here = opts;
  if (opts.service) here.project = opts.service->options().project_dir;
  auto cp = CompileFor(here, type_check, err);
  if (!cp) return std::nullopt;
  auto wh = SessionFor(opts, &cp->project);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return std::nullopt;
  }
  return Branch{std::move(*cp), std::move(*wh)};
}

// What a build covers, in words.
std::string CoverageText(const shadow::BuildReport& r) {
  std::string out = !r.last ? "every window from each table's start"
                            : fmt::format("append and merge tables from the schedule period holding {} - {} to {}; "
                                          "replace tables and views whole",
                                          FormatIso(r.now), FormatDuration(*r.last), FormatIso(r.now));
  if (r.sample_percent) {
    out += fmt::format("; replace tables read a {}% sample (repeatable, Bernoulli) of every production table and "
                       "source they read",
                       *r.sample_percent);
  } else if (!r.last) {
    out += " (a full build)";
  }
  return out;
}

nlohmann::json ReportJson(const shadow::BuildReport& r) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : r.tables) {
    tables.push_back({{"table", t.planned.table},
                      {"shadow", t.shadow_name},
                      {"reason", shadow::ReasonName(t.planned.reason)},
                      {"because", t.planned.because},
                      {"strategy", t.strategy},
                      {"from", t.from ? FormatIso(*t.from) : ""},
                      {"sampled", t.sampled},
                      {"status", StepStatusName(t.outcome.status)},
                      {"detail", t.outcome.detail},
                      {"windows", t.outcome.windows},
                      {"rows", t.outcome.rows},
                      {"seconds", t.outcome.seconds}});
  }
  return {{"environment", r.plan.env},
          {"now", FormatIso(r.now)},
          {"last", r.last ? FormatDuration(*r.last) : ""},
          {"full", !r.last.has_value() && !r.sample_percent},
          {"sample_percent", r.sample_percent ? nlohmann::json(*r.sample_percent) : nlohmann::json()},
          {"covers", CoverageText(r)},
          {"tables", tables},
          {"removed", r.plan.removed},
          {"failures", r.failures()},
          {"seconds", r.seconds}};
}

void PrintReport(const shadow::BuildReport& r, std::ostream& out) {
  if (r.tables.empty()) {
    out << fmt::format("shadow environment {}: the branch defines every table as production does; nothing to build\n",
                       r.plan.env);
  } else {
    out << fmt::format("shadow environment {}: {} ({})\n", r.plan.env, Plural(static_cast<int64_t>(r.tables.size()), "table"),
                       CoverageText(r));
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : r.tables) {
      std::string why(shadow::ReasonName(t.planned.reason));
      if (!t.planned.because.empty()) why += " of " + t.planned.because;
      rows.push_back({t.shadow_name, why, std::string(StepStatusName(t.outcome.status)), t.outcome.detail});
    }
    PrintTextTable(out, {"table", "why", "status", "detail"}, rows);
  }
  for (const auto& gone : r.plan.removed) out << fmt::format("not on the branch: {} (production keeps it)\n", gone);
  out << fmt::format("production was only read; {:.1f}s\n", r.seconds);
}

}  // namespace

int ShadowBuild(const CommonOptions& opts, const ShadowBuildOptions& build, bool json, std::ostream& out,
                std::ostream& err) {
  auto branch = OpenBranch(opts, /*type_check=*/true, err);
  if (!branch) return 1;
  if (branch->cp.diags.has_errors()) {
    PrintDiagnostics(branch->cp.diags, err);
    err << "error: the branch does not validate; no shadow environment was built\n";
    return 1;
  }
  shadow::BuildOptions o;
  o.env = build.env;
  o.now = NowOf(opts);
  if (!build.full) o.last = build.last ? *build.last : branch->cp.project.shadow.last;
  o.sample_percent = build.sample_percent;
  const Duration expire_after = branch->cp.project.shadow.expire_after;
  auto other = branch->wh->Connect();  // for expiry before, and the diff after
  if (!other.ok()) {
    err << "error: " << other.error().ToString() << "\n";
    return 1;
  }
  // Idle environments go first (not this one: it is being built).
  auto expired = shadow::Expire(**other, o.now, expire_after, o.env);
  if (expired.ok()) {
    for (const auto& env : *expired) err << fmt::format("dropped shadow environment {}: idle for {}\n", env, FormatDuration(expire_after));
  }
  // The build takes its project to move its tables; the diff reads the branch's as it is.
  CommonOptions here = opts;
  if (opts.service) here.project = opts.service->options().project_dir;
  auto unmoved = CompileFor(here, /*type_check=*/false, err);
  if (!unmoved) return 1;
  auto report = shadow::Build(std::move(branch->cp), std::move(branch->wh), o, nullptr);
  if (!report.ok()) {
    err << "error: " << report.error().ToString() << "\n";
    return 1;
  }
  std::optional<shadow::DiffReport> diff;
  if (!report->tables.empty()) {
    auto d = shadow::Diff(**other, *unmoved, o.env, o.now);
    if (d.ok()) {
      diff = std::move(*d);
    } else {
      err << "warning: the environment was built, but its diff failed: " << d.error().ToString() << "\n";
    }
  }
  if (json) {
    nlohmann::json j = ReportJson(*report);
    j["diff"] = diff ? shadow::DiffJson(*diff) : nlohmann::json();
    out << j.dump() << "\n";
  } else {
    PrintReport(*report, out);
    if (diff) out << "\nagainst production (`derived shadow diff --env " << o.env << "` for the details):\n" << shadow::DiffSummary(*diff);
  }
  return report->failures() > 0 ? 1 : 0;
}

int ShadowList(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err) {
  auto wh = SessionFor(opts, nullptr);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return 1;
  }
  auto envs = shadow::List(**wh);
  if (!envs.ok()) {
    err << "error: " << envs.error().ToString() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *envs) {
      arr.push_back({{"environment", e.env},
                     {"schemas", e.schemas},
                     {"tables", e.tables},
                     {"last_built", e.last_built ? FormatIso(*e.last_built) : ""}});
    }
    out << arr.dump() << "\n";
    return 0;
  }
  if (envs->empty()) {
    out << "no shadow environments\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : *envs) {
    rows.push_back({e.env, std::to_string(e.tables), e.last_built ? FormatIso(*e.last_built) : "-", Join(e.schemas, ", ")});
  }
  PrintTextTable(out, {"environment", "tables", "last built", "schemas"}, rows);
  return 0;
}

int ShadowDrop(const CommonOptions& opts, const std::string& env, std::ostream& out, std::ostream& err) {
  auto wh = SessionFor(opts, nullptr);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return 1;
  }
  if (auto st = shadow::Drop(**wh, env); !st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  out << fmt::format("dropped shadow environment {} (production untouched)\n", env);
  return 0;
}

int ShadowDiff(const CommonOptions& opts, const std::string& env, bool json, std::ostream& out, std::ostream& err) {
  auto branch = OpenBranch(opts, /*type_check=*/false, err);
  if (!branch) return 1;
  auto diff = shadow::Diff(*branch->wh, branch->cp, env, NowOf(opts));
  if (!diff.ok()) {
    err << "error: " << diff.error().ToString() << "\n";
    return 1;
  }
  out << (json ? shadow::DiffJson(*diff).dump() + "\n" : shadow::DiffText(*diff));
  return 0;
}

int ShadowPromote(const CommonOptions& opts, const std::string& env, bool json, std::ostream& out, std::ostream& err) {
  // The project is production's now: the merged branch.
  auto production = OpenBranch(opts, /*type_check=*/false, err);
  if (!production) return 1;
  Result<std::vector<shadow::Promotion>> done = Error("");
  auto promote = [&] { done = shadow::Promote(production->cp, std::move(production->wh), env, NowOf(opts)); };
  // In the service, its updaters wait meanwhile: none rebuilds what is being swapped in.
  if (opts.service) {
    if (auto st = opts.service->Exclusive(promote); !st.ok()) {
      err << "error: " << st.error().ToString() << "\n";
      return 1;
    }
  } else {
    promote();
  }
  if (!done.ok()) {
    err << "error: " << done.error().ToString() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : *done) arr.push_back({{"table", p.table}, {"promoted", p.promoted}, {"why", p.why}, {"rows", p.rows}});
    out << arr.dump() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : *done) rows.push_back({p.table, p.promoted ? "promoted" : "rebuilt as usual", p.why});
  if (rows.empty()) {
    out << fmt::format("shadow environment {} holds nothing to promote\n", env);
  } else {
    PrintTextTable(out, {"table", "outcome", "why"}, rows);
  }
  return 0;
}

}  // namespace derived::cli
