#include "engine/lineage.h"

#include <fmt/format.h>

#include "engine/intervals.h"
#include "util/strings.h"

namespace derived {
namespace {

struct LogRow {
  std::string run_id, operation, started_at, finished_at;
  Window window;
  nlohmann::json inputs;
};

class Tracer {
 public:
  Tracer(Warehouse& wh, const CompiledProject& cp) : wh_(wh), cp_(cp) {}

  // Successful runs of `table` that wrote data in `range`, committed before `before`
  // (empty: any time), newest first.
  Result<std::vector<LogRow>> Runs(const std::string& table, std::optional<Window> range, const std::string& before) {
    std::string where = fmt::format("table_name = {} AND status = 'success' AND operation NOT IN ('validate', "
                                    "'restate')",
                                    db::QuoteLiteral(table));
    if (range) {
      where += fmt::format(" AND window_end > {} AND window_start < {}", FormatSqlLiteral(range->start),
                           FormatSqlLiteral(range->end));
    }
    if (!before.empty()) where += " AND finished_at <= " + db::QuoteLiteral(before) + "::TIMESTAMP";
    auto rows = wh_.Query(fmt::format(
        "SELECT run_id, operation, strftime(window_start, '%Y-%m-%d %H:%M:%S'), strftime(window_end, '%Y-%m-%d "
        "%H:%M:%S'), CAST(started_at AS VARCHAR), CAST(finished_at AS VARCHAR), CAST(inputs AS VARCHAR) FROM "
        "_derived.log WHERE {} ORDER BY finished_at DESC",
        where));
    if (!rows.ok()) return rows.error();
    std::vector<LogRow> out;
    for (const auto& r : rows->rows) {
      LogRow row;
      row.run_id = r[0].value_or("");
      row.operation = r[1].value_or("");
      if (r[2] && r[3]) {
        auto s = ParseTimestamp(*r[2]);
        auto e = ParseTimestamp(*r[3]);
        if (s.ok() && e.ok()) row.window = {*s, *e};
      }
      row.started_at = r[4].value_or("");
      row.finished_at = r[5].value_or("");
      row.inputs = nlohmann::json::parse(r[6].value_or("{}"), nullptr, false);
      out.push_back(std::move(row));
    }
    return out;
  }

  // The runs of `table` whose data a reader saw when it read `range` before `before`:
  // the newest run for each part of the range (a backfill replaces what it rewrote).
  Result<std::vector<LineageRun>> Trace(const std::string& table, Window range, const std::string& before,
                                        int depth) {
    std::vector<LineageRun> out;
    const CompiledTable* t = cp_.FindTable(table);
    if (!t || depth > 32) return out;
    const TableDef& def = cp_.def(*t);
    bool replace = def.strategy == Strategy::kReplace;
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
    for (const auto& up : t.upstream) {
      if (cp_.project.FindSource(up)) {
        LineageRun src;
        src.table = up;
        src.is_source = true;
        if (run.inputs.is_object() && run.inputs.contains(up) && run.inputs[up]["watermark"].is_string()) {
          src.watermark = run.inputs[up]["watermark"].get<std::string>();
        }
        node.inputs.push_back(std::move(src));
        continue;
      }
      auto ups = Trace(up, read, run.started_at, depth + 1);
      if (!ups.ok()) return ups.error();
      for (auto& u : *ups) node.inputs.push_back(std::move(u));
    }
    return node;
  }

 private:
  Warehouse& wh_;
  const CompiledProject& cp_;
};

void Format(const LineageRun& r, int depth, std::string* out) {
  std::string pad(static_cast<size_t>(depth) * 2, ' ');
  if (r.is_source) {
    *out += fmt::format("{}{} (source, complete through {})\n", pad, r.table,
                        r.watermark.empty() ? "unknown" : r.watermark);
    return;
  }
  *out += fmt::format("{}{} [{}, {}) {} run {} at {}\n", pad, r.table, FormatIso(r.window.start),
                      FormatIso(r.window.end), r.operation, r.run_id, r.finished_at);
  for (const auto& in : r.inputs) Format(in, depth + 1, out);
}

}  // namespace

nlohmann::json LineageRun::ToJson() const {
  nlohmann::json j = {{"table", table}, {"kind", is_source ? "source" : "table"}};
  if (is_source) {
    j["watermark"] = watermark.empty() ? nlohmann::json(nullptr) : nlohmann::json(watermark);
  } else {
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
  if (!t) return Error(fmt::format("unknown table '{}'", table));
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
