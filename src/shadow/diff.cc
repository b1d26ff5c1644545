#include "shadow/diff.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "metadata/store.h"
#include "shadow/environment.h"
#include "shadow/plan.h"
#include "sql/parser.h"
#include "util/strings.h"

namespace derived::shadow {
namespace {

constexpr int kSampleRows = 5;

std::string_view TruncUnit(Schedule s) {
  switch (s) {
    case Schedule::kHourly: return "hour";
    case Schedule::kDaily: return "day";
    case Schedule::kWeekly: return "week";
    case Schedule::kMonthly: return "month";
  }
  return "day";
}

int64_t Number(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }

class TableComparer {
 public:
  TableComparer(Warehouse& wh, TableDiff* d) : wh_(wh), d_(*d), q_(wh.dialect()) {}

  Status Run(const TableDef& def) {
    auto [pds, pname] = SplitName(d_.table);
    auto [sds, sname] = SplitName(d_.shadow);
    prod_ = q_.Table(pds, pname);
    shadow_ = q_.Table(sds, sname);
    auto pc = wh_.Columns(pds, pname);
    if (!pc.ok()) return pc.error();
    auto sc = wh_.Columns(sds, sname);
    if (!sc.ok()) return sc.error();
    if (!sc->has_value()) return Error(fmt::format("{} was not built", d_.shadow));
    if (!pc->has_value()) {
      d_.impact = Impact::kNew;
      auto n = wh_.Query("SELECT count(*) FROM " + shadow_);
      if (!n.ok()) return n.error();
      d_.shadow_rows = Number(n->at(0, 0));
      return Status::Ok();
    }
    Schemas(**pc, **sc);
    if (d_.from && !def.time_column.empty()) {
      const std::string tc = q_.Ident(def.time_column);
      where_ = fmt::format(" WHERE {0} >= {1} AND {0} < {2}", tc, q_.TimestampLiteral(*d_.from),
                           q_.TimestampLiteral(*d_.to));
    }
    if (auto st = Counts(); !st.ok()) return st;
    if (!def.time_column.empty() && def.strategy == Strategy::kAppend) {
      if (auto st = Windows(def); !st.ok()) return st;
    }
    d_.keys = KeysOf(def);
    return d_.keys.empty() ? Multisets() : Keyed();
  }

 private:
  void Schemas(const std::vector<OutputColumn>& p, const std::vector<OutputColumn>& s) {
    std::map<std::string, std::string> ptype, stype;
    for (const auto& c : p) ptype[c.name] = c.type;
    for (const auto& c : s) stype[c.name] = c.type;
    for (const auto& c : s) {
      auto it = ptype.find(c.name);
      if (it == ptype.end()) {
        d_.added.push_back({c.name, "", c.type});
      } else {
        common_.push_back(c.name);
        if (it->second != c.type) {
          d_.retyped.push_back({c.name, it->second, c.type});
          retyped_.insert(c.name);
        }
      }
    }
    for (const auto& c : p) {
      if (!stype.count(c.name)) d_.removed.push_back({c.name, c.type, ""});
    }
  }

  // A column as compared: retyped ones as text on both sides.
  std::string Col(const std::string& alias, const std::string& c) const {
    std::string e = (alias.empty() ? "" : alias + ".") + q_.Ident(c);
    return retyped_.count(c) ? "CAST(" + e + " AS VARCHAR)" : e;
  }
  std::string CommonList(const std::string& alias) const {
    std::vector<std::string> out;
    for (const auto& c : common_) out.push_back(Col(alias, c) + " AS " + q_.Ident(c));
    return Join(out, ", ");
  }

  Status Counts() {
    auto p = wh_.Query("SELECT count(*) FROM " + prod_ + where_);
    if (!p.ok()) return p.error();
    auto s = wh_.Query("SELECT count(*) FROM " + shadow_ + where_);
    if (!s.ok()) return s.error();
    d_.production_rows = Number(p->at(0, 0));
    d_.shadow_rows = Number(s->at(0, 0));
    return Status::Ok();
  }

  Status Windows(const TableDef& def) {
    const std::string w = q_.IsoText(fmt::format("CAST(date_trunc('{}', {}) AS TIMESTAMP)", TruncUnit(def.schedule),
                                                  q_.Ident(def.time_column)));
    std::map<std::string, std::pair<int64_t, int64_t>> counts;
    for (int side = 0; side < 2; ++side) {
      auto rows = wh_.Query(fmt::format("SELECT {0}, count(*) FROM {1}{2} GROUP BY {0}", w, side ? shadow_ : prod_, where_));
      if (!rows.ok()) return rows.error();
      for (const auto& r : rows->rows) {
        auto& c = counts[r[0].value_or("NULL")];
        (side ? c.second : c.first) = Number(r[1]);
      }
    }
    for (const auto& [window, c] : counts) {
      if (c.first != c.second) d_.windows.push_back({window, c.first, c.second});
    }
    return Status::Ok();
  }

  std::vector<std::string> KeysOf(const TableDef& def) const {
    std::vector<std::string> keys;
    if (def.strategy == Strategy::kMerge) keys = def.merge.keys;
    for (const auto& t : def.tests) {
      if (keys.empty() && t.kind == TestDef::Kind::kUnique) keys = t.columns;
    }
    for (const auto& k : keys) {
      if (std::find(common_.begin(), common_.end(), k) == common_.end()) return {};
    }
    return keys;
  }

  // Rows on one side only, as multisets over the common columns.
  Status Multisets() {
    if (common_.empty()) return Status::Ok();
    for (int side = 0; side < 2; ++side) {
      const std::string& a = side ? shadow_ : prod_;
      const std::string& b = side ? prod_ : shadow_;
      std::string diff = fmt::format("SELECT {0} FROM {1}{3} EXCEPT ALL SELECT {0} FROM {2}{3}", CommonList(""), a, b, where_);
      auto n = wh_.Query("SELECT count(*) FROM (" + diff + ") d");
      if (!n.ok()) return n.error();
      (side ? d_.only_in_shadow : d_.only_in_production) = Number(n->at(0, 0));
      if (auto st = Sample(diff + " LIMIT " + std::to_string(kSampleRows), side ? "shadow only" : "production only");
          !st.ok()) {
        return st;
      }
    }
    return Status::Ok();
  }

  Status Keyed() {
    std::vector<std::string> on, values;
    for (const auto& k : d_.keys) on.push_back(fmt::format("p.{0} = s.{0}", q_.Ident(k)));
    for (const auto& c : common_) {
      if (std::find(d_.keys.begin(), d_.keys.end(), c) == d_.keys.end()) values.push_back(c);
    }
    const std::string from = fmt::format(
        "(SELECT 1 AS derived_in, {0} FROM {1}{3}) p FULL OUTER JOIN (SELECT 1 AS derived_in, {0} FROM {2}{3}) s ON {4}",
        CommonList(""), prod_, shadow_, where_, Join(on, " AND "));
    std::vector<std::string> differs, select = {"count(*) FILTER (WHERE p.derived_in IS NULL)",
                                                "count(*) FILTER (WHERE s.derived_in IS NULL)"};
    for (const auto& c : values) differs.push_back(fmt::format("p.{0} IS DISTINCT FROM s.{0}", q_.Ident(c)));
    const std::string both = "p.derived_in IS NOT NULL AND s.derived_in IS NOT NULL";
    const std::string any = differs.empty() ? "FALSE" : "(" + Join(differs, " OR ") + ")";
    select.push_back(fmt::format("count(*) FILTER (WHERE {} AND {})", both, any));
    for (const auto& d : differs) select.push_back(fmt::format("count(*) FILTER (WHERE {} AND {})", both, d));
    auto rows = wh_.Query(fmt::format("SELECT {} FROM {}", Join(select, ", "), from));
    if (!rows.ok()) return rows.error();
    d_.keys_added = Number(rows->at(0, 0));
    d_.keys_removed = Number(rows->at(0, 1));
    d_.keys_changed = Number(rows->at(0, 2));
    for (size_t i = 0; i < values.size(); ++i) {
      int64_t n = Number(rows->at(0, 3 + i));
      if (n > 0) d_.changed_values.emplace_back(values[i], n);
    }
    // A few rows of each kind: both sides' values side by side.
    std::vector<std::string> shown;
    for (const auto& c : common_) {
      shown.push_back(fmt::format("p.{0} AS {1}", q_.Ident(c), q_.Ident("production." + c)));
      shown.push_back(fmt::format("s.{0} AS {1}", q_.Ident(c), q_.Ident("shadow." + c)));
    }
    const char* kinds[][2] = {{"p.derived_in IS NULL", "key added"}, {"s.derived_in IS NULL", "key removed"}};
    for (const auto& [cond, kind] : kinds) {
      if (auto st = Sample(fmt::format("SELECT {} FROM {} WHERE {} LIMIT {}", Join(shown, ", "), from, cond, kSampleRows),
                           kind);
          !st.ok()) {
        return st;
      }
    }
    return Sample(fmt::format("SELECT {} FROM {} WHERE {} AND {} LIMIT {}", Join(shown, ", "), from, both, any, kSampleRows),
                  "changed");
  }

  Status Sample(const std::string& sql, const std::string& kind) {
    auto rows = wh_.Query(sql);
    if (!rows.ok()) return rows.error();
    for (const auto& r : rows->rows) {
      nlohmann::json row = nlohmann::json::object();
      for (size_t i = 0; i < r.size() && i < rows->columns.size(); ++i) {
        row[rows->columns[i]] = r[i] ? nlohmann::json(*r[i]) : nlohmann::json();
      }
      d_.sample.push_back({{"kind", kind}, {"row", row}});
    }
    return Status::Ok();
  }

  Warehouse& wh_;
  TableDiff& d_;
  const SqlDialect& q_;
  std::string prod_, shadow_, where_;
  std::vector<std::string> common_;
  std::set<std::string> retyped_;
};

// What changed that a reader could read, and which readers read it.
void Classify(const CompiledProject& branch, Timestamp now,
              sql::SqlParser& parser, TableDiff* d) {
  if (!d->error.empty()) {
    d->impact = Impact::kUnknown;
    return;
  }
  if (d->impact == Impact::kNew) return;
  const bool rows_changed = d->production_rows != d->shadow_rows || d->keys_added || d->keys_removed ||
                            d->only_in_production || d->only_in_shadow || !d->windows.empty();
  std::set<std::string> changed;
  for (const auto& c : d->removed) changed.insert(c.name);
  for (const auto& c : d->retyped) changed.insert(c.name);
  for (const auto& [c, n] : d->changed_values) changed.insert(c);
  d->changed_columns.assign(changed.begin(), changed.end());
  // A reader that names a new column may now find it twice (ambiguous).
  for (const auto& c : d->added) changed.insert(c.name);
  if (!rows_changed && changed.empty() && d->added.empty()) {
    d->impact = Impact::kNone;
    return;
  }
  d->impact = Impact::kNonBreaking;
  auto id = branch.graph.Find(d->table);
  if (!id) return;
  std::set<std::string> affected;
  for (int reader : branch.graph.downstream(*id)) {
    const std::string name = branch.graph.node(reader).name;
    const CompiledTable* t = branch.FindTable(name);
    if (!t) continue;
    // Conservative: a reader whose SQL (or a test's) cannot be read, or that selects *,
    // reads it all; new or missing rows reach every reader.
    bool reads = rows_changed;
    const TableDef& rdef = branch.def(*t);
    const Window w = DefaultWindow(rdef, now);
    std::vector<Result<std::string>> texts = {branch.Render(*t, w, false)};
    for (const auto& test : rdef.tests) {
      if (test.kind == TestDef::Kind::kSql) texts.push_back(branch.RenderText(*t, test.sql, test.where, w));
      if (test.kind == TestDef::Kind::kRelationships && test.to_table == d->table) reads = reads || changed.count(test.to_column);
    }
    for (const auto& text : texts) {
      auto names = text.ok() ? parser.NamedColumns(*text) : Result<sql::SqlParser::ColumnNames>(text.error());
      if (!names.ok() || names->star) {
        reads = true;
        break;
      }
      for (const auto& c : changed) reads = reads || names->names.count(c) > 0;
    }
    if (!reads) continue;
    affected.insert(name);
    for (int down : branch.graph.DownstreamClosure(reader)) affected.insert(branch.graph.node(down).name);
  }
  d->affected.assign(affected.begin(), affected.end());
  if (!affected.empty()) d->impact = Impact::kBreaking;
}

}  // namespace

std::string_view ImpactName(Impact i) {
  switch (i) {
    case Impact::kNew: return "new";
    case Impact::kNone: return "unchanged";
    case Impact::kNonBreaking: return "non-breaking";
    case Impact::kBreaking: return "breaking";
    case Impact::kUnknown: return "unknown";
  }
  return "?";
}

bool DiffReport::any_breaking() const {
  return std::any_of(tables.begin(), tables.end(),
                     [](const TableDiff& t) { return t.impact == Impact::kBreaking || t.impact == Impact::kUnknown; });
}

Result<DiffReport> Diff(Warehouse& wh, const CompiledProject& branch, std::string_view env, Timestamp now) {
  if (auto st = CheckEnvironmentName(env); !st.ok()) return st.error();
  auto built = BuiltTables(wh, env);
  if (!built.ok()) return built.error();
  auto parser = sql::StandaloneParser::Open();
  if (!parser.ok()) return parser.error();
  MetadataStore meta(&wh, Provenance{}, MetadataSchemaOf(env));
  DiffReport report;
  report.env = std::string(env);
  // In dependency order, as the environment built them.
  std::vector<std::string> order;
  for (int id : branch.order) {
    if (built->count(branch.graph.node(id).name)) order.push_back(branch.graph.node(id).name);
  }
  for (const auto& [name, _] : *built) {
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  }
  std::set<std::string> limited;  // tables the environment built over a range
  for (const auto& name : order) {
    const nlohmann::json& b = built->at(name);
    TableDiff d;
    d.table = name;
    auto [ds, table] = SplitName(name);
    d.shadow = SchemaOf(env, ds) + "." + table;
    d.reason = DetailText(b, "reason");
    const TableDef* def = branch.project.FindTable(name);
    if (!def) {
      d.error = "no longer on the branch";
      report.tables.push_back(std::move(d));
      continue;
    }
    d.strategy = std::string(StrategyName(def->strategy));
    if (auto from = ParseTimestamp(DetailText(b, "from")); from.ok()) {
      std::vector<std::string> names = {d.shadow};
      auto st = meta.LoadStates(&names);
      if (!st.ok()) return st.error();
      auto it = st->find(d.shadow);
      d.from = *from;
      d.to = it != st->end() && it->second.complete_through ? *it->second.complete_through : now;
      // A merge table accumulates: built from a range, it holds only what the range brought.
      d.inputs_limited = def->strategy == Strategy::kMerge;
      limited.insert(name);
    } else if (DetailNumber(b, "sample_percent")) {
      d.inputs_limited = true;  // read a sample of production
      limited.insert(name);
    } else if (const CompiledTable* t = branch.FindTable(name)) {
      for (const auto& up : t->upstream) d.inputs_limited = d.inputs_limited || limited.count(up) > 0;
      if (d.inputs_limited) limited.insert(name);
    }
    TableComparer cmp(wh, &d);
    if (auto st = cmp.Run(*def); !st.ok()) d.error = st.error().message;
    Classify(branch, now, (*parser)->get(), &d);
    report.tables.push_back(std::move(d));
  }
  return report;
}

nlohmann::json DiffJson(const DiffReport& report) {
  nlohmann::json tables = nlohmann::json::array();
  auto cols = [](const std::vector<ColumnChange>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : v) {
      a.push_back({{"name", c.name}, {"production_type", c.production_type}, {"shadow_type", c.shadow_type}});
    }
    return a;
  };
  for (const auto& t : report.tables) {
    nlohmann::json windows = nlohmann::json::array();
    for (const auto& w : t.windows) windows.push_back({{"window", w.window}, {"production", w.production}, {"shadow", w.shadow}});
    nlohmann::json changed = nlohmann::json::object();
    for (const auto& [c, n] : t.changed_values) changed[c] = n;
    nlohmann::json j = {{"table", t.table},
                        {"shadow", t.shadow},
                        {"reason", t.reason},
                        {"strategy", t.strategy},
                        {"from", t.from ? FormatIso(*t.from) : ""},
                        {"to", t.to ? FormatIso(*t.to) : ""},
                        {"inputs_limited", t.inputs_limited},
                        {"schema", {{"added", cols(t.added)}, {"removed", cols(t.removed)}, {"retyped", cols(t.retyped)}}},
                        {"rows", {{"production", t.production_rows}, {"shadow", t.shadow_rows}}},
                        {"windows", windows},
                        {"keys", t.keys},
                        {"impact", ImpactName(t.impact)},
                        {"changed_columns", t.changed_columns},
                        {"affected", t.affected},
                        {"sample", t.sample}};
    if (!t.keys.empty()) {
      j["key_changes"] = {{"added", t.keys_added}, {"removed", t.keys_removed}, {"changed", t.keys_changed}};
      j["changed_values"] = changed;
    } else {
      j["only_in_production"] = t.only_in_production;
      j["only_in_shadow"] = t.only_in_shadow;
    }
    if (!t.error.empty()) j["error"] = t.error;
    tables.push_back(std::move(j));
  }
  return {{"environment", report.env}, {"tables", tables}, {"breaking", report.any_breaking()}};
}

std::string DiffText(const DiffReport& report) {
  std::string out;
  for (const auto& t : report.tables) {
    out += fmt::format("{} ({}, {}): {}\n", t.table, t.reason, t.strategy, ImpactName(t.impact));
    if (!t.error.empty()) {
      out += "  could not compare: " + t.error + "\n";
      continue;
    }
    if (t.from) out += fmt::format("  compared over {} .. {}\n", FormatIso(*t.from), FormatIso(*t.to));
    if (t.inputs_limited) {
      out += "  built from what the environment built over a range only: differences may come from the range\n";
    }
    for (const auto& c : t.added) out += fmt::format("  column added: {} {}\n", c.name, c.shadow_type);
    for (const auto& c : t.removed) out += fmt::format("  column removed: {} {}\n", c.name, c.production_type);
    for (const auto& c : t.retyped) out += fmt::format("  column retyped: {} {} -> {}\n", c.name, c.production_type, c.shadow_type);
    out += fmt::format("  rows: {} in production, {} in the environment\n", t.production_rows, t.shadow_rows);
    for (const auto& w : t.windows) out += fmt::format("  window {}: {} -> {} rows\n", w.window, w.production, w.shadow);
    if (!t.keys.empty()) {
      out += fmt::format("  keys ({}): {} added, {} removed, {} changed\n", Join(t.keys, ", "), t.keys_added,
                         t.keys_removed, t.keys_changed);
      for (const auto& [c, n] : t.changed_values) out += fmt::format("    {}: {} changed\n", c, n);
    } else if (t.impact != Impact::kNew) {
      out += fmt::format("  {} rows only in production, {} only in the environment\n", t.only_in_production,
                         t.only_in_shadow);
    }
    if (!t.affected.empty()) out += "  readers that must rebuild: " + Join(t.affected, ", ") + "\n";
    for (const auto& s : t.sample) out += fmt::format("  {}: {}\n", s["kind"].get<std::string>(), s["row"].dump());
  }
  if (report.tables.empty()) out += fmt::format("shadow environment {} built no tables\n", report.env);
  return out;
}

std::string DiffSummary(const DiffReport& report) {
  std::string out;
  for (const auto& t : report.tables) {
    if (!t.error.empty()) {
      out += fmt::format("  {}: not compared: {}\n", t.table, t.error);
      continue;
    }
    std::string line = fmt::format("  {}: {}, rows {} -> {}", t.table, ImpactName(t.impact), t.production_rows, t.shadow_rows);
    if (!t.keys.empty()) line += fmt::format(", keys +{} -{} ~{}", t.keys_added, t.keys_removed, t.keys_changed);
    if (!t.added.empty() || !t.removed.empty() || !t.retyped.empty()) {
      line += fmt::format(", columns +{} -{} ~{}", t.added.size(), t.removed.size(), t.retyped.size());
    }
    if (!t.affected.empty()) line += "; breaks " + Join(t.affected, ", ");
    if (t.inputs_limited) line += " (from a range or sample only)";
    out += line + "\n";
  }
  return out;
}

}  // namespace derived::shadow
