// `derived show TABLE`: a table's config, rendered SQL, neighbours and column lineage.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/compile_project.h"
#include "cli/names.h"
#include "engine/engine.h"
#include "service/service.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

std::string SourceText(const sql::ColumnSource& s) { return s.table + "." + s.column; }

std::vector<std::string> Names(const Graph& g, const std::vector<int>& ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(g.node(id).name);
  return out;
}

// The table's completeness and what it waits on, from the warehouse (inside the
// service: its own); nullopt when there is no warehouse yet or it cannot be read (said
// in *note).
std::optional<TableStatus> LiveStatus(const CommonOptions& opts, const CompiledProject& cp, const TableDef& def,
                                      std::string* note, std::vector<std::string>* storage) {
  const std::string name = def.qualified_name();
  Result<std::unique_ptr<Engine>> engine = Error("");
  if (opts.service) {
    engine = opts.service->OpenEngine();
    if (engine.ok() && opts.now) (*engine)->SetNow(*opts.now);
  } else if (!WarehouseExists(cp.project)) {
    *note = "not built yet: there is no warehouse";
    return std::nullopt;
  } else {
    engine = Engine::Open(&cp, opts.now ? *opts.now : SystemClock().Now());
  }
  if (!engine.ok()) {
    *note = "cannot read the warehouse: " + engine.error().message;
    return std::nullopt;
  }
  if (auto lines = (*engine)->Storage(def); lines.ok()) *storage = std::move(*lines);
  auto statuses = (*engine)->Status();
  if (!statuses.ok()) {
    *note = "cannot read the warehouse: " + statuses.error().message;
    return std::nullopt;
  }
  for (auto& s : *statuses) {
    if (s.table == name) return std::move(s);
  }
  return std::nullopt;
}

}  // namespace

int Show(const CommonOptions& opts, const std::string& name, std::optional<Timestamp> window_start, bool json,
         std::ostream& out, std::ostream& err) {
  auto cp = CompileFor(opts, true, err);
  if (!cp) return 1;
  auto resolved = ResolveName(name, NameScope::kTable, ProjectNames(cp->project));
  if (!resolved.ok()) {
    err << "error: " << resolved.error().message << "\n";
    return 2;
  }
  const CompiledTable* t = cp->FindTable(*resolved);
  if (!t) {  // its file did not load: its problems say why
    std::string dataset = resolved->substr(0, resolved->find('.')), table = resolved->substr(resolved->find('.') + 1);
    Diagnostics own;
    for (const auto& diag : cp->diags.all()) {
      for (const char* folder : {"tables/", "sources/"}) {
        if (StartsWith(diag.where.file, folder + dataset + "/" + table + ".")) own.AddError(diag.where, diag.message);
      }
    }
    PrintDiagnostics(own, err);
    err << "error: " << *resolved << " has errors, so there is nothing to show (see above)\n";
    return 1;
  }
  const TableDef& d = cp->def(*t);
  // Problems in this table are worth showing here; the rest belong to validate.
  Diagnostics own;
  for (const auto& diag : cp->diags.all()) {
    if (diag.where.file == d.file || diag.where.file == d.sql.file) {
      diag.severity == Severity::kError ? own.AddError(diag.where, diag.message)
                                        : own.AddWarning(diag.where, diag.message);
    }
  }
  PrintDiagnostics(own, err);

  Window window = window_start ? WindowAt(d, *window_start) : t->window;
  auto sql = cp->Render(*t, window, false);
  auto lineage = cp->Lineage(*t);
  std::vector<std::string> upstream = t->node >= 0 ? Names(cp->graph, cp->graph.upstream(t->node)) : t->upstream;
  std::vector<std::string> downstream = t->node >= 0 ? Names(cp->graph, cp->graph.downstream(t->node))
                                                     : std::vector<std::string>{};
  std::string state_note;
  std::vector<std::string> storage;
  std::optional<TableStatus> state = LiveStatus(opts, *cp, d, &state_note, &storage);

  if (json) {
    nlohmann::json doc = {
        {"name", d.qualified_name()},
        {"file", d.file},
        {"description", d.description},
        {"owner", d.owner},
        {"tags", d.tags},
        {"schedule", std::string(ScheduleName(d.schedule))},
        {"window", FormatDuration(d.window)},
        {"start", d.start ? nlohmann::json(FormatIso(*d.start)) : nlohmann::json(nullptr)},
        {"strategy", std::string(StrategyName(d.strategy))},
        {"time_column", d.time_column},
        {"partition_by", d.partition_by},
        {"cluster_by", d.cluster_by},
        {"upstream", upstream},
        {"downstream", downstream},
        {"reads_itself", t->reads_itself},
        {"rendered_window", {{"start", FormatIso(window.start)}, {"end", FormatIso(window.end)}}},
        {"lookup", d.lookup},
    };
    if (state) {
      doc["complete_through"] =
          state->complete_through ? nlohmann::json(FormatIso(*state->complete_through)) : nlohmann::json(nullptr);
      doc["last_status"] = state->last_status.empty() ? nlohmann::json(nullptr) : nlohmann::json(state->last_status);
      doc["next"] = state->next;
      doc["waiting_on"] = state->waiting_on;
    } else {
      doc["complete_through"] = nullptr;
      doc["state_note"] = state_note;
    }
    if (d.strategy == Strategy::kMerge) {
      nlohmann::json rules = nlohmann::json::object();
      for (const auto& [col, rule] : d.merge.rules) rules[col] = std::string(MergeRuleName(rule));
      doc["merge"] = {{"keys", d.merge.keys}, {"rules", rules}};
    }
    doc["storage"] = storage;
    doc["sql"] = sql.ok() ? nlohmann::json(*sql) : nlohmann::json(nullptr);
    if (!sql.ok()) doc["sql_error"] = sql.error().ToString();
    nlohmann::json cols = nlohmann::json::array();
    if (t->schema) {
      for (const auto& c : *t->schema) cols.push_back({{"name", c.name}, {"type", c.type}});
    }
    doc["schema"] = cols;
    nlohmann::json lin = nlohmann::json::array();
    if (lineage.ok()) {
      for (const auto& c : lineage->columns) {
        nlohmann::json inputs = nlohmann::json::array();
        for (const auto& s : c.inputs) inputs.push_back({{"table", s.table}, {"column", s.column}});
        nlohmann::json o = {{"column", c.name}, {"inputs", inputs}, {"ambiguous", c.ambiguous}};
        if (c.ambiguous) o["note"] = c.note;
        lin.push_back(std::move(o));
      }
    }
    doc["lineage"] = lin;
    if (!lineage.ok()) doc["lineage_error"] = lineage.error().message;
    out << doc.dump(2) << "\n";
    return own.has_errors() ? 1 : 0;
  }

  out << d.qualified_name() << "  (" << d.file << ")\n";
  if (!d.description.empty()) out << "  " << Trim(d.description) << "\n";
  out << "\n";
  auto field = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out << fmt::format("  {:<13}{}\n", k + ":", v);
  };
  field("owner", d.owner);
  field("tags", Join(d.tags, ", "));
  bool view = d.strategy == Strategy::kView;
  if (!view) {
    field("schedule", std::string(ScheduleName(d.schedule)));
    field("window", FormatDuration(d.window));
    field("start", d.start ? FormatIso(*d.start) : "");
  }
  field("strategy", std::string(StrategyName(d.strategy)) + (d.lookup ? " (lookup: readers use its newest version)" : ""));
  field("time_column", d.time_column);
  field("partition_by", Join(d.partition_by, ", "));
  field("cluster_by", Join(d.cluster_by, ", "));
  if (d.strategy == Strategy::kMerge) {
    std::vector<std::string> rules;
    for (const auto& [col, rule] : d.merge.rules) rules.push_back(col + ": " + std::string(MergeRuleName(rule)));
    field("merge keys", Join(d.merge.keys, ", "));
    field("merge rules", rules.empty() ? "latest for every column" : Join(rules, ", "));
  }
  field("upstream", upstream.empty() ? "(none)" : Join(upstream, ", "));
  field("downstream", downstream.empty() ? "(none)" : Join(downstream, ", "));
  if (t->reads_itself) field("reads itself", "yes (its previous contents)");
  if (state) {
    field("complete", state->complete_through ? FormatIso(*state->complete_through) : "nothing yet");
    field("status", state->last_status.empty() ? "new" : state->last_status);
    field("next", state->next);
  } else {
    field("complete", state_note);
  }

  if (!storage.empty()) {
    out << "\nStorage:\n";
    for (const auto& line : storage) out << "  " << line << "\n";
  }

  out << "\nColumns:\n";
  if (!lineage.ok()) {
    out << "  (lineage unavailable: " << lineage.error().message << ")\n";
  } else {
    size_t width = 4;
    for (const auto& c : lineage->columns) width = std::max(width, c.name.size());
    for (size_t i = 0; i < lineage->columns.size(); ++i) {
      const auto& c = lineage->columns[i];
      std::string type = (t->schema && i < t->schema->size() && lineage->columns_known) ? (*t->schema)[i].type : "";
      std::vector<std::string> inputs;
      for (const auto& s : c.inputs) inputs.push_back(SourceText(s));
      std::string from = inputs.empty() ? "(no input columns)" : Join(inputs, ", ");
      out << fmt::format("  {:<{}}  {:<12} <- {}{}\n", c.name, width, type, from,
                         c.ambiguous ? "  [ambiguous: " + c.note + "]" : "");
    }
  }
  out << fmt::format("\nSQL for window [{}, {}):\n", FormatIso(window.start), FormatIso(window.end));
  if (sql.ok()) {
    for (const auto& line : Split(Trim(*sql), '\n')) out << "  " << line << "\n";
  } else {
    out << "  (cannot render: " << sql.error().ToString() << ")\n";
  }
  return own.has_errors() ? 1 : 0;
}

}  // namespace derived::cli
