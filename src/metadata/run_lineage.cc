#include "metadata/run_lineage.h"

#include <fmt/format.h>

#include "engine/intervals.h"
#include "metadata/store.h"
#include "util/strings.h"

namespace derived {
namespace {

using LogRow = MetadataStore::Run;

class Tracer {
 public:
  Tracer(Warehouse& wh, const CompiledProject& cp) : wh_(wh), cp_(cp), meta_(&wh, {}) {}

  Result<std::vector<LogRow>> Runs(const std::string& table, std::optional<Window> range, const std::string& before) {
    return meta_.Runs(table, range, before);
  }

  // The runs of `table` whose data a reader saw when it read `range` before `before`:
  // the newest run for each part of the range (a backfill replaces what it rewrote).
  Result<std::vector<LineageRun>> Trace(const std::string& table, Window range, const std::string& before,
                                        int depth) {
    std::vector<LineageRun> out;
    const CompiledTable* t = cp_.FindTable(table);
    if (!t || depth > 32) return out;
    const TableDef& def = cp_.def(*t);
    // A replace table or a lookup is read whole: its newest run before the reader's.
    bool replace = def.strategy == Strategy::kReplace || def.lookup;
    auto runs = Runs(table, replace ? std::nullopt : std::optional<Window>(range), before);
    if (!runs.ok()) return runs.error();
    IntervalSet covered;
    for (const auto& run : *runs) {
      if (!replace && covered.Covers({std::max(run.window.start, range.start), std::min(run.window.end, range.end)})) {
        continue;
      }
      covered.Add(run.window);
      auto node = Node(*t, run, depth);
      if (!node.ok()) return node.error();
      out.push_back(std::move(*node));
      if (replace || covered.Covers(range)) break;
    }
    return out;
  }

  Result<LineageRun> Node(const CompiledTable& t, const LogRow& run, int depth) {
    const TableDef& def = cp_.def(t);
    LineageRun node;
    node.table = def.qualified_name();
    node.run_id = run.run_id;
    node.operation = run.operation;
    node.finished_at = run.finished_at;
    node.window = run.window;
    // Each period reads `window` back from its end.
    Window read{Add(NextBoundary(run.window.start, def.schedule), def.window, -1), run.window.end};
    if (def.strategy == Strategy::kReplace) read = run.window;
    if (auto st = Inputs(t, run.inputs, read, run.started_at, depth, &node.inputs); !st.ok()) return st.error();
    return node;
  }

  // What `t` read, as `inputs` (its snapshot of each upstream) recorded, into `out`.
  Status Inputs(const CompiledTable& t, const nlohmann::json& inputs, Window read, const std::string& before,
                int depth, std::vector<LineageRun>* out) {
    for (const auto& up : t.upstream) {
      nlohmann::json seen = inputs.is_object() && inputs.contains(up) ? inputs[up] : nlohmann::json::object();
      auto text = [&](const char* key) {
        return seen.contains(key) && seen[key].is_string() ? seen[key].get<std::string>() : std::string();
      };
      LineageRun in;
      in.table = up;
      in.lookup = seen.value("lookup", false);
      in.complete_through = text("complete_through");
      if (in.complete_through.empty()) in.complete_through = text("watermark");  // older log rows
      // The data version identifies what was read: it moves with every commit.
      if (seen.contains("data_version") && seen["data_version"].is_number_integer()) {
        in.version = seen["data_version"].get<int64_t>();
      }
      const CompiledTable* u = cp_.FindTable(up);
      if (!u) {
        in.kind = LineageRun::Kind::kSource;
        out->push_back(std::move(in));
        continue;
      }
      if (cp_.def(*u).strategy == Strategy::kView) {
        // A view reads what it reads when its reader runs: its inputs were recorded with it.
        in.kind = LineageRun::Kind::kView;
        if (depth > 32) continue;
        auto st = Inputs(*u, seen.value("inputs", nlohmann::json::object()), read, before, depth + 1, &in.inputs);
        if (!st.ok()) return st;
        out->push_back(std::move(in));
        continue;
      }
      auto ups = Trace(up, read, before, depth + 1);
      if (!ups.ok()) return ups.error();
      for (auto& r : *ups) {
        r.lookup = in.lookup;
        r.complete_through = in.complete_through;
        r.version = in.version;
        out->push_back(std::move(r));
      }
    }
    return Status::Ok();
  }

 private:
  Warehouse& wh_;
  const CompiledProject& cp_;
  MetadataStore meta_;
};

std::string_view KindName(LineageRun::Kind k) {
  switch (k) {
    case LineageRun::Kind::kTable: return "table";
    case LineageRun::Kind::kSource: return "source";
    case LineageRun::Kind::kView: return "view";
  }
  return "?";
}

// ", complete through X" / ", lookup at version 3" as recorded by the reader.
std::string AsRead(const LineageRun& r) {
  std::string s;
  if (r.lookup) s += r.version >= 0 ? fmt::format(", lookup: newest version ({})", r.version) : ", lookup";
  s += ", complete through " + (r.complete_through.empty() ? std::string("unknown") : r.complete_through);
  return s;
}

void Format(const LineageRun& r, int depth, std::string* out) {
  std::string pad(static_cast<size_t>(depth) * 2, ' ');
  if (r.kind != LineageRun::Kind::kTable) {
    *out += fmt::format("{}{} ({}{})\n", pad, r.table, KindName(r.kind), AsRead(r));
  } else {
    *out += fmt::format("{}{} [{}, {}) {} run {} at {}{}\n", pad, r.table, FormatIso(r.window.start),
                        FormatIso(r.window.end), r.operation, r.run_id, r.finished_at, depth ? AsRead(r) : "");
  }
  for (const auto& in : r.inputs) Format(in, depth + 1, out);
}

}  // namespace

nlohmann::json LineageRun::ToJson() const {
  nlohmann::json j = {{"table", table}, {"kind", KindName(kind)}};
  j["complete_through"] = complete_through.empty() ? nlohmann::json(nullptr) : nlohmann::json(complete_through);
  if (lookup) j["lookup"] = true;
  if (version >= 0) j["version"] = version;
  if (kind == Kind::kTable) {
    j["run_id"] = run_id;
    j["operation"] = operation;
    j["window_start"] = FormatIso(window.start);
    j["window_end"] = FormatIso(window.end);
    j["finished_at"] = finished_at;
  }
  j["inputs"] = nlohmann::json::array();
  for (const auto& in : inputs) j["inputs"].push_back(in.ToJson());
  return j;
}

Result<LineageRun> TraceLineage(Warehouse& wh, const CompiledProject& cp, const std::string& table, Timestamp at) {
  const CompiledTable* t = cp.FindTable(table);
  if (!t) {
    if (const BrokenFile* b = cp.project.FindBroken(table)) {
      return Error(fmt::format("{} is defined in {}, which does not load: fix it (`derived validate`) to trace "
                               "its windows",
                               table, b->file));
    }
    return Error(fmt::format("unknown table '{}'", table));
  }
  Tracer tracer(wh, cp);
  auto runs = tracer.Runs(cp.def(*t).qualified_name(), Window{at, Timestamp{at.seconds + 1}}, "");
  if (!runs.ok()) return runs.error();
  if (runs->empty()) {
    return Error(fmt::format("{} has no successful run covering {}", cp.def(*t).qualified_name(), FormatIso(at)));
  }
  return tracer.Node(*t, runs->front(), 0);
}

std::string FormatLineage(const LineageRun& root) {
  std::string out;
  Format(root, 0, &out);
  return out;
}

}  // namespace derived
