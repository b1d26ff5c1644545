// The commands that touch the warehouse: run, status, log, backfill, source mark.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/compile_project.h"
#include "cli/text_table.h"
#include "config/loader.h"
#include "dag/selector.h"
#include "engine/engine.h"
#include "fleet/lease_keeper.h"
#include "metadata/run_lineage.h"
#include "service/service.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

// A command's leases: renewed while it runs, so its length does not matter.
constexpr double kCommandLeaseSeconds = 30;

Timestamp NowOf(const CommonOptions& opts) { return opts.now ? *opts.now : SystemClock().Now(); }

// A completeness for people: a source declared static is complete for all time.
std::string CompleteText(const std::optional<Timestamp>& t) {
  if (!t) return "-";
  return *t == kEndOfTime ? "all time" : FormatIso(*t);
}

std::string HumanCount(int64_t n) {
  if (n >= 10'000'000) return fmt::format("{:.0f}M", static_cast<double>(n) / 1e6);
  if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 10'000) return fmt::format("{:.0f}k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

// Progress on a terminal, silence in pipes and files.
ProgressFn TerminalProgress(const CommonOptions& opts, std::ostream& err) {
  // In the service, err goes back to a client whose terminal this process cannot see.
  if (opts.service || !isatty(fileno(stderr))) return nullptr;
  using Clock = std::chrono::steady_clock;
  struct Shown {
    Clock::time_point start = Clock::now(), last;
  };
  auto shown = std::make_shared<Shown>();
  return [&err, shown](const BuildProgress& p) {
    auto now = Clock::now();
    // A redraw per window would flood a slow terminal: at most ten a second.
    if (p.windows_done < p.windows_total && now - shown->last < std::chrono::milliseconds(100)) return;
    shown->last = now;
    double s = std::chrono::duration<double>(now - shown->start).count();
    err << fmt::format("\r\033[K{}: {}/{} windows, {} rows, {:.1f}s", p.table, p.windows_done, p.windows_total,
                       HumanCount(p.rows), s)
        << std::flush;
  };
}

void ClearProgress(const CommonOptions& opts, std::ostream& err) {
  if (!opts.service && isatty(fileno(stderr))) err << "\r\033[K" << std::flush;
}

struct Session {
  std::shared_ptr<const CompiledProject> cp;
  std::unique_ptr<Engine> engine;
};

// Compiles the project and opens its warehouse. Invalid tables do not stop the engine:
// it fails them and runs everything else. Commands that build nothing skip the type-check.
// Inside the service: the service's project version, on a session of its own.
bool OpenSession(const CommonOptions& opts, Session* s, std::ostream& err, bool type_check = true) {
  Result<std::unique_ptr<Engine>> engine = Error("");
  if (opts.service) {
    engine = opts.service->OpenEngine(&s->cp);
    if (engine.ok() && opts.now) (*engine)->SetNow(*opts.now);
  } else {
    auto cp = CompileFor(opts, type_check, err);
    if (!cp) return false;
    s->cp = std::make_shared<const CompiledProject>(std::move(*cp));
    engine = Engine::Open(s->cp.get(), NowOf(opts));
  }
  if (!engine.ok()) {
    err << "error: " << engine.error().ToString() << "\n";
    return false;
  }
  s->engine = std::move(*engine);
  return true;
}

// The tables `selector` picks (dag/selector.h), sources left out; every table if empty.
std::vector<std::string> TablesOf(const CompiledProject& cp, const std::string& selector) {
  std::vector<std::string> out;
  if (selector.empty()) {
    for (const auto& t : cp.project.tables) out.push_back(t.qualified_name());
    return out;
  }
  auto ids = Select(cp.graph, selector);
  if (!ids.ok()) return out;  // the command itself reports the bad selector
  for (int id : *ids) {
    const Node& n = cp.graph.node(id);
    if (n.kind == NodeKind::kTable) out.push_back(n.name);
  }
  return out;
}

// On a shared warehouse, a command writes only under the leases of the tables it may
// change (taken for its length, fleet/lease_keeper.h). With `steal` it takes them from
// the updaters that hold them (a command the user runs on purpose); without, tables
// held by others are left to them. False (after saying why) when the leases could not
// be looked at.
bool TakeLeases(Session& s, const std::vector<std::string>& tables, bool steal,
                std::unique_ptr<fleet::LeaseKeeper>* keeper, std::ostream& err) {
  auto taken = fleet::LeaseKeeper::Take(s.engine->warehouse(), tables, {kCommandLeaseSeconds, steal, ""});
  if (!taken.ok()) {
    err << "error: " << taken.error().ToString() << "\n";
    return false;
  }
  *keeper = std::move(*taken);
  if ((*keeper)->book()) s.engine->metadata().SetFence((*keeper)->book());
  return true;
}

// Runs fn(session) for a command that changes the warehouse. Inside the service the
// session opens once the updaters are paused, so the table states it reads are current.
// On a shared warehouse it holds the leases of the tables `affected` names, taken from
// their updaters.
template <typename Fn>
int Mutating(const CommonOptions& opts, std::ostream& err, bool type_check,
             const std::function<std::vector<std::string>(const CompiledProject&)>& affected, Fn&& fn) {
  auto run = [&] {
    Session s;
    if (!OpenSession(opts, &s, err, type_check)) return 1;
    std::unique_ptr<fleet::LeaseKeeper> keeper;
    if (!opts.service && !TakeLeases(s, affected(*s.cp), /*steal=*/true, &keeper, err)) return 1;
    return fn(s);
  };
  if (!opts.service) return run();
  int code = 1;
  if (auto st = opts.service->Exclusive([&] { code = run(); }); !st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  return code;
}

}  // namespace

std::string OutcomeLine(const TableOutcome& o) {
  switch (o.status) {
    case StepStatus::kBuilt: return fmt::format("built    {}  {} ({:.2f}s)", o.table, o.detail, o.seconds);
    case StepStatus::kFailed:
    case StepStatus::kTestFailed: return fmt::format("FAILED   {}  {}", o.table, o.detail);
    case StepStatus::kUpdated:
    case StepStatus::kSkipped:
    case StepStatus::kSuperseded:
    case StepStatus::kRemoved:
    case StepStatus::kDropped: return fmt::format("{:<8} {}  {}", StepStatusName(o.status), o.table, o.detail);
    case StepStatus::kUpToDate:
    case StepStatus::kWaiting: return "";
  }
  return "";
}

namespace {

nlohmann::json OutcomeJson(const TableOutcome& o) {
  return {{"table", o.table},     {"status", StepStatusName(o.status)}, {"detail", o.detail},
          {"windows", o.windows}, {"rows", o.rows},     {"seconds", o.seconds}};
}

int Report(const RunReport& report, bool json, std::ostream& out, std::ostream& err) {
  if (json) {
    nlohmann::json doc = {{"run_id", report.run_id}, {"failures", report.failures()}};
    doc["tables"] = nlohmann::json::array();
    for (const auto& o : report.tables) doc["tables"].push_back(OutcomeJson(o));
    out << doc.dump(2) << "\n";
  } else {
    std::map<std::string, int> counts;
    for (const auto& o : report.tables) {
      counts[std::string(StepStatusName(o.status))]++;
      if (std::string line = OutcomeLine(o); !line.empty()) out << line << "\n";
    }
    std::vector<std::string> parts;
    for (const char* s :
         {"built", "updated", "up_to_date", "waiting", "skipped", "superseded", "removed", "dropped", "failed",
          "test_failed"}) {
      if (counts[s]) parts.push_back(fmt::format("{} {}", counts[s], ReplaceAll(s, "_", " ")));
    }
    out << fmt::format("run {}: {}\n", report.run_id, parts.empty() ? "nothing to do" : Join(parts, ", "));
  }
  if (report.failures() > 0) {
    std::vector<std::string> names;
    for (const auto& o : report.tables)
      if (o.failed()) names.push_back(o.table);
    err << fmt::format("error: {} table{} failed: {}\n", names.size(), names.size() == 1 ? "" : "s",
                       Join(names, ", "));
    return 1;
  }
  return 0;
}

void PrintRows(const Rows& rows, bool json, std::ostream& out) {
  if (json) {
    for (const auto& obj : rows.ToJson()) out << obj.dump() << "\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows.rows) {
    std::vector<std::string> line;
    for (const auto& v : r) line.push_back(v.value_or("NULL"));
    cells.push_back(std::move(line));
  }
  PrintTextTable(out, rows.columns, cells);
}

// The project's warehouse without compiling its tables: for commands that only read.
Result<std::unique_ptr<Warehouse>> OpenProjectWarehouse(const CommonOptions& opts) {
  if (opts.service) return opts.service->Connect();
  Diagnostics diags;
  LoadOptions load;
  load.project_file_only = true;
  auto project = LoadProject(opts.project, &diags, load);
  if (!project.ok()) return project.error();
  return OpenWarehouse(*project);
}

}  // namespace

int Run(const CommonOptions& opts, const std::string& select, bool json, std::ostream& out, std::ostream& err) {
  Session s;
  if (!OpenSession(opts, &s, err)) return 1;
  PrintDiagnostics(s.cp->diags, err);
  // Beside running updaters on a shared warehouse: the tables they hold are theirs.
  std::unique_ptr<fleet::LeaseKeeper> keeper;
  if (!opts.service && s.engine->warehouse().coordination()) {
    std::vector<std::string> tables = TablesOf(*s.cp, select);
    if (select.empty()) {  // a whole run also sweeps the tables that left the project
      auto states = s.engine->metadata().LoadStates();
      if (!states.ok()) {
        err << "error: " << states.error().ToString() << "\n";
        return 1;
      }
      for (const auto& [name, st] : *states) {
        if (!s.cp->FindTable(name)) tables.push_back(name);
      }
    }
    if (!TakeLeases(s, tables, /*steal=*/false, &keeper, err)) return 1;
  }
  auto report = s.engine->RunOnce(select, TerminalProgress(opts, err));
  ClearProgress(opts, err);
  if (!report.ok()) {  // failures are in the report; an error is a bad --select
    err << "error: " << report.error().ToString() << "\n";
    return 2;
  }
  int code = Report(*report, json, out, err);
  if (code == 0 && s.cp->diags.has_errors()) {
    // As validate would: the valid tables are built, and the run still says it was not clean.
    size_t n = s.cp->diags.error_count();
    err << fmt::format("error: the project has {} error{} (above); everything that loads was run\n", n,
                       n == 1 ? "" : "s");
    return 1;
  }
  return code;
}

namespace {

// A backfill's or restate's report, or its error (a bad table, source or range).
int RepairReport(const CommonOptions& opts, const Result<RunReport>& report, bool json, std::ostream& out,
                 std::ostream& err) {
  ClearProgress(opts, err);
  if (!report.ok()) {
    err << "error: " << report.error().ToString() << "\n";
    return 1;
  }
  return Report(*report, json, out, err);
}

}  // namespace

int Backfill(const CommonOptions& opts, const std::string& table, Timestamp from, Timestamp to, bool downstream,
             bool json, std::ostream& out, std::ostream& err) {
  auto affected = [&](const CompiledProject& cp) { return TablesOf(cp, ToLower(table) + (downstream ? "+" : "")); };
  return Mutating(opts, err, /*type_check=*/true, affected, [&](Session& s) {
    auto report = s.engine->Backfill(ToLower(table), from, to, downstream, TerminalProgress(opts, err));
    return RepairReport(opts, report, json, out, err);
  });
}

int SourceRestate(const CommonOptions& opts, const std::string& source, Timestamp from, Timestamp to, bool json,
                  std::ostream& out, std::ostream& err) {
  auto affected = [&](const CompiledProject& cp) { return TablesOf(cp, ToLower(source) + "+"); };
  return Mutating(opts, err, /*type_check=*/true, affected, [&](Session& s) {
    auto report = s.engine->Restate(source, from, to, TerminalProgress(opts, err));
    return RepairReport(opts, report, json, out, err);
  });
}

int Lineage(const CommonOptions& opts, const std::string& table, Timestamp at, bool json, std::ostream& out,
            std::ostream& err) {
  Session s;
  if (!OpenSession(opts, &s, err)) return 1;
  auto root = TraceLineage(s.engine->warehouse(), *s.cp, ToLower(table), at);
  if (!root.ok()) {
    err << "error: " << root.error().ToString() << "\n";
    return 1;
  }
  out << (json ? root->ToJson().dump(2) + "\n" : FormatLineage(*root));
  return 0;
}

int Status(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err) {
  Session s;
  if (!OpenSession(opts, &s, err)) return 1;
  auto rows = s.engine->Status();
  if (!rows.ok()) {
    err << "error: " << rows.error().ToString() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& r : *rows) {
      doc.push_back({{"table", r.table},
                     {"strategy", r.strategy},
                     {"schedule", r.schedule},
                     {"complete_through", r.complete_through ? nlohmann::json(FormatIso(*r.complete_through)) : nullptr},
                     {"lag_seconds", r.lag_seconds ? nlohmann::json(*r.lag_seconds) : nullptr},
                     {"last_run", r.last_run.empty() ? nullptr : nlohmann::json(r.last_run)},
                     {"last_status", r.last_status.empty() ? nullptr : nlohmann::json(r.last_status)},
                     {"consecutive_failures", r.consecutive_failures},
                     {"failing", r.failing},
                     {"last_error", r.last_error.empty() ? nullptr : nlohmann::json(r.last_error)},
                     {"next", r.next},
                     {"waiting_on", r.waiting_on}});
    }
    out << doc.dump(2) << "\n";
    return 0;
  }
  std::map<std::string, UpdaterStatus> updaters;
  if (opts.service) updaters = opts.service->Updaters();
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : *rows) {
    std::string status = r.strategy == "source" ? "-"
                         : r.failing            ? "failing"
                         : r.last_status.empty() ? "new"
                                                 : r.last_status;
    if (r.consecutive_failures > 1) status += fmt::format(" (x{})", r.consecutive_failures);
    if (auto u = updaters.find(r.table); u != updaters.end()) {
      if (u->second.running) status += ", running";
      if (u->second.retry_in_seconds >= 0) status += fmt::format(", retry in {:.0f}s", u->second.retry_in_seconds);
    }
    cells.push_back({r.table, r.strategy + "/" + r.schedule, CompleteText(r.complete_through),
                     r.lag_seconds ? HumanDuration(*r.lag_seconds) : "-", r.last_run.empty() ? "-" : r.last_run,
                     status, r.next});
  }
  PrintTextTable(out, {"NAME", "KIND", "COMPLETE THROUGH", "LAG", "LAST RUN", "STATUS", "NEXT"}, cells);
  for (const auto& r : *rows) {
    if (!r.last_error.empty() && r.last_status != "success") {
      out << fmt::format("\n{} last error:\n  {}\n", r.table, ReplaceAll(r.last_error, "\n", "\n  "));
    }
  }
  return 0;
}

int Log(const CommonOptions& opts, const std::string& table, int limit, bool json, std::ostream& out,
        std::ostream& err) {
  auto wh = OpenProjectWarehouse(opts);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return 1;
  }
  MetadataStore meta(wh->get(), {});
  if (auto st = meta.EnsureSchema(); !st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  auto rows = meta.ReadLog(ToLower(table), limit, /*raw=*/json);
  if (!rows.ok()) {
    err << "error: " << rows.error().ToString() << "\n";
    return 1;
  }
  PrintRows(*rows, json, out);
  return 0;
}

int SourceMark(const CommonOptions& opts, const std::string& source, Timestamp through, std::ostream& out,
               std::ostream& err) {
  derived::Status st = derived::Status::Ok();
  if (opts.service) {
    st = opts.service->MarkSource(source, through);  // wakes the source's readers at once
  } else {
    Session s;
    if (!OpenSession(opts, &s, err, /*type_check=*/false)) return 1;
    st = s.engine->MarkSource(source, through);
  }
  if (!st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  out << fmt::format("{} is complete through {}\n", ToLower(source), FormatIso(through));
  return 0;
}

int PlanCommand(const CommonOptions& opts, bool json, std::ostream& out, std::ostream& err) {
  // The version a reload would load (in a service watching a branch, the branch's
  // head; otherwise the files on disk), against what the warehouse holds.
  std::shared_ptr<const CompiledProject> cp;
  if (opts.service) {
    auto candidate = opts.service->Candidate();
    if (!candidate.ok()) {
      err << "error: " << candidate.error().ToString() << "\n";
      return 1;
    }
    cp = std::move(*candidate);
  } else if (auto compiled = CompileFor(opts, true, err)) {
    cp = std::make_shared<const CompiledProject>(std::move(*compiled));
  } else {
    return 1;
  }
  const bool broken = cp->diags.has_errors();
  if (broken) {
    PrintDiagnostics(cp->diags, err);
    err << "error: this version of the project has errors: a running service would reject it and keep the last "
           "valid version; `run --once` would build what loads and hold what is broken, as planned below\n";
  }
  const int done = broken ? 1 : 0;
  auto wh = opts.service ? opts.service->Connect() : OpenWarehouse(cp->project);
  if (!wh.ok()) {
    err << "error: " << wh.error().ToString() << "\n";
    return 1;
  }
  auto engine = Engine::Open(AnalyzeProject(*cp), std::move(*wh), NowOf(opts));
  if (!engine.ok()) {
    err << "error: " << engine.error().ToString() << "\n";
    return 1;
  }
  if (opts.service) {
    (*engine)->SetSources(opts.service->Sources());
  } else if (auto st = (*engine)->LoadSources(); !st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  auto changes = (*engine)->PlanChanges();
  if (!changes.ok()) {
    err << "error: " << changes.error().ToString() << "\n";
    return 1;
  }
  if (json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& c : *changes) doc.push_back(c.ToJson());
    out << doc.dump(2) << "\n";
    return done;
  }
  if (changes->empty()) {
    out << "no changes: every table matches its definition\n";
    return done;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& c : *changes) cells.push_back({std::string(ChangeName(c.change)), c.table, std::to_string(c.windows), c.detail});
  PrintTextTable(out, {"CHANGE", "TABLE", "WINDOWS", "DETAIL"}, cells);
  return done;
}

int Drop(const CommonOptions& opts, const std::string& table, std::ostream& out, std::ostream& err) {
  // A removed table has no node: its lease is taken by name.
  auto affected = [&](const CompiledProject&) { return std::vector<std::string>{ToLower(table)}; };
  return Mutating(opts, err, /*type_check=*/false, affected, [&](Session& s) {
    if (auto st = s.engine->Drop(table); !st.ok()) {
      err << "error: " << st.error().ToString() << "\n";
      return 1;
    }
    out << fmt::format("dropped {}\n", ToLower(table));
    return 0;
  });
}

}  // namespace derived::cli
