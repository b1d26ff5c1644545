#include "random_project.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace derived::testing {
namespace {

namespace fs = std::filesystem;
using Kind = GenNode::Kind;

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

const char* Unit(Schedule s) {
  switch (s) {
    case Schedule::kHourly: return "hour";
    case Schedule::kDaily: return "day";
    case Schedule::kWeekly: return "week";
    case Schedule::kMonthly: return "month";
  }
  return "?";
}

int Rank(Schedule s) { return static_cast<int>(s); }  // hourly < daily < weekly < monthly

// The oracle's own calendar (std::chrono, not Derived's): the start of the period
// holding t, weeks starting Monday, in UTC.
Timestamp Floor(Timestamp t, Schedule s) {
  using namespace std::chrono;
  int64_t x = t.seconds;
  auto floor_div = [](int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); };
  switch (s) {
    case Schedule::kHourly: return {floor_div(x, 3600) * 3600};
    case Schedule::kDaily: return {floor_div(x, 86400) * 86400};
    case Schedule::kWeekly: {
      int64_t days = floor_div(x, 86400);
      int64_t monday = floor_div(days + 3, 7) * 7 - 3;  // 1970-01-01 was a Thursday
      return {monday * 86400};
    }
    case Schedule::kMonthly: {
      year_month_day ymd{sys_days{days{floor_div(x, 86400)}}};
      sys_days first{ymd.year() / ymd.month() / 1};
      return {static_cast<int64_t>(first.time_since_epoch().count()) * 86400};
    }
  }
  return t;
}

std::string Lit(Timestamp t) {
  std::string iso = FormatIso(t);
  return "TIMESTAMP '" + iso.substr(0, 10) + " " + iso.substr(11, 8) + "'";
}

std::string GroupBy(int columns) {
  std::string out;
  for (int c = 1; c <= columns; ++c) out += (c > 1 ? ", " : "") + std::to_string(c);
  return out;
}

// A literal relation of the lookup's contents: one version (k, label), or several (ver,
// k, label); an empty one when there is nothing.
std::string DimSql(const std::map<int64_t, std::string>& dim, std::optional<int64_t> version = std::nullopt) {
  std::string out;
  for (const auto& [k, label] : dim) {
    out += fmt::format("{}SELECT {}CAST({} AS BIGINT) AS k, CAST('{}' AS VARCHAR) AS label",
                       out.empty() ? "" : " UNION ALL ",
                       version ? fmt::format("CAST({} AS BIGINT) AS ver, ", *version) : "", k, label);
  }
  if (out.empty()) {
    out = fmt::format("SELECT {}CAST(NULL AS BIGINT) AS k, CAST(NULL AS VARCHAR) AS label WHERE 1 = 0",
                      version ? "CAST(NULL AS BIGINT) AS ver, " : "");
  }
  return out;
}

const char* kRowColumns =
    "columns: [{name: id, type: BIGINT}, {name: k, type: BIGINT}, {name: ts, type: TIMESTAMP}, {name: v, type: "
    "BIGINT}, {name: w, type: BIGINT}]\n";

}  // namespace

Timestamp RandomProject::Start() { return *ParseTimestamp("2024-01-01"); }

RandomProject::RandomProject(uint64_t seed, const std::string& root, const std::string& postgres_dsn)
    : root_(root), dsn_(postgres_dsn) {
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<int>(rng() % n); };
  int sources = 2 + pick(3);
  for (int i = 0; i < sources; ++i) {
    GenNode n;
    n.kind = Kind::kSource;
    n.name = fmt::format("raw.s{}", i);
    n.query_freshness = pick(4) == 0;
    nodes_.push_back(n);
  }
  auto node = [](Kind kind, std::string name) {
    GenNode n;
    n.kind = kind;
    n.name = std::move(name);
    return n;
  };
  if (!postgres()) {
    nodes_.push_back(node(Kind::kFileSource, "raw.f0"));
    nodes_.push_back(node(Kind::kStaticFile, "raw.f1"));
  }
  nodes_.push_back(node(Kind::kDim, "raw.dim"));
  GenNode lookup = node(Kind::kLookup, "core.dim_l");
  lookup.inputs = {static_cast<int>(nodes_.size()) - 1};
  nodes_.push_back(lookup);

  auto candidates = [&](auto pred) {
    std::vector<int> out;
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
      if (pred(nodes_[i])) out.push_back(i);
    }
    return out;
  };
  const Schedule schedules[] = {Schedule::kHourly, Schedule::kDaily, Schedule::kDaily, Schedule::kWeekly,
                                Schedule::kMonthly};
  int tables = 8 + pick(23);
  for (int t = 0; t < tables; ++t) {
    GenNode n;
    n.mult = 1 + pick(3);
    n.schedule = schedules[pick(5)];
    std::vector<int> rows = candidates([](const GenNode& g) { return g.row_level(); });
    std::vector<int> aggs = candidates([](const GenNode& g) { return g.appends(); });
    int roll = pick(20);
    if (roll < 3) {
      n.kind = Kind::kView;
    } else if (roll < 6) {
      n.kind = Kind::kStaging;
    } else if (roll < 10) {
      n.kind = Kind::kAppendAgg;
    } else if (roll < 13 && !aggs.empty()) {
      n.kind = Kind::kRollup;
    } else if (roll < 15 && aggs.size() >= 2) {
      n.kind = Kind::kJoin;
    } else if (roll < 18) {
      n.kind = Kind::kMerge;
    } else {
      n.kind = Kind::kReplaceAgg;
    }
    switch (n.kind) {
      case Kind::kView:
      case Kind::kStaging:
      case Kind::kAppendAgg:
      case Kind::kMerge:
      case Kind::kReplaceAgg:
        // The first table reads the file source, so every project has its files read.
        n.inputs = {t == 0 && !postgres() ? sources : rows[pick(rows.size())]};
        n.joins_lookup = n.kind == Kind::kAppendAgg && pick(3) == 0;
        n.joins_static = !postgres() && (n.kind == Kind::kAppendAgg || n.kind == Kind::kReplaceAgg) && pick(4) == 0;
        if (n.kind == Kind::kMerge && n.schedule == Schedule::kMonthly) n.schedule = Schedule::kDaily;
        break;
      case Kind::kRollup: {
        int in = aggs[pick(aggs.size())];
        n.inputs = {in};
        if (Rank(n.schedule) < Rank(nodes_[in].schedule)) n.schedule = nodes_[in].schedule;
        break;
      }
      case Kind::kJoin: {
        int a = aggs[pick(aggs.size())];
        std::vector<int> same;
        for (int b : aggs) {
          if (b != a && nodes_[b].schedule == nodes_[a].schedule) same.push_back(b);
        }
        if (same.empty()) {  // no partner of that schedule: an aggregate of its rows instead
          n.kind = Kind::kAppendAgg;
          n.inputs = {rows[pick(rows.size())]};
        } else {
          n.inputs = {a, same[pick(same.size())]};
          n.schedule = nodes_[a].schedule;
        }
        break;
      }
      default: break;
    }
    const char* dataset = n.kind == Kind::kView || n.kind == Kind::kStaging ? "stg"
                          : n.kind == Kind::kMerge                          ? "mrg"
                          : n.kind == Kind::kReplaceAgg                     ? "rep"
                                                                            : "agg";
    n.name = fmt::format("{}.t{}", dataset, t);
    nodes_.push_back(n);
  }
  // Every project has a reader of the lookup and, on DuckDB, of the file without a time
  // column, where it has a table that can join them.
  auto ensure = [&](bool GenNode::*flag, std::initializer_list<Kind> kinds) {
    if (std::any_of(nodes_.begin(), nodes_.end(), [&](const GenNode& g) { return g.*flag; })) return;
    for (auto& g : nodes_) {
      if (std::find(kinds.begin(), kinds.end(), g.kind) != kinds.end()) {
        g.*flag = true;
        return;
      }
    }
  };
  ensure(&GenNode::joins_lookup, {Kind::kAppendAgg});
  if (!postgres()) ensure(&GenNode::joins_static, {Kind::kAppendAgg, Kind::kReplaceAgg});
}

int RandomProject::LookupNode() const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].kind == Kind::kLookup) return static_cast<int>(i);
  }
  return -1;
}

std::string RandomProject::TableSql(const GenNode& n) const {
  auto in = [&](size_t i) { return nodes_[n.inputs[i]].name; };
  switch (n.kind) {
    case Kind::kLookup: return "SELECT k, label FROM raw.dim";
    case Kind::kView:
    case Kind::kStaging: return fmt::format("SELECT id, k, ts, v * {} AS v, w FROM {}", n.mult, in(0));
    case Kind::kAppendAgg:
      return fmt::format(
          "SELECT date_trunc('{0}', i.ts) AS t, i.k{1}{2}, count(*) AS n, sum(i.v * {3}) AS s\n"
          "FROM {4} i{5}{6}\n"
          "WHERE i.ts >= {{{{ window_start }}}} AND i.ts < {{{{ window_end }}}}\nGROUP BY {7}",
          Unit(n.schedule), n.joins_lookup ? ", d.label" : "", n.joins_static ? ", c.cat" : "", n.mult, in(0),
          n.joins_lookup ? " LEFT JOIN core.dim_l d ON d.k = i.k" : "",
          n.joins_static ? " LEFT JOIN raw.f1 c ON c.k = i.k" : "", GroupBy(2 + n.joins_lookup + n.joins_static));
    case Kind::kRollup:
      return fmt::format(
          "SELECT date_trunc('{0}', t) AS t, k, sum(n) AS n, sum(s) * {1} AS s FROM {2}\n"
          "WHERE t >= {{{{ window_start }}}} AND t < {{{{ window_end }}}}\nGROUP BY 1, 2",
          Unit(n.schedule), n.mult, in(0));
    case Kind::kJoin:
      return fmt::format(
          "SELECT a.t, a.k, a.n, a.s + coalesce(b.s, 0) * {0} AS s\n"
          "FROM {1} a LEFT JOIN {2} b ON b.t = a.t AND b.k = a.k\n"
          "WHERE a.t >= {{{{ window_start }}}} AND a.t < {{{{ window_end }}}}",
          n.mult, in(0), in(1));
    case Kind::kMerge:
      return fmt::format(
          "SELECT k, ts AS first_ts, ts AS last_ts, v * {0} AS s, w AS c, v AS last_v, v AS first_v FROM {1}\n"
          "WHERE ts >= {{{{ window_start }}}} AND ts < {{{{ window_end }}}}",
          n.mult, in(0));
    case Kind::kReplaceAgg:
      return fmt::format(
          "SELECT i.k{0}, count(*) AS n, sum(i.v * {1}) AS s FROM {2} i{3}\n"
          "WHERE i.ts < {{{{ window_end }}}}\nGROUP BY {4}",
          n.joins_static ? ", c.cat" : "", n.mult, in(0), n.joins_static ? " LEFT JOIN raw.f1 c ON c.k = i.k" : "",
          GroupBy(1 + n.joins_static));
    default: return "";
  }
}

void RandomProject::WriteTable(const GenNode& n) const {
  std::string yaml;
  switch (n.kind) {
    case Kind::kView: yaml = "strategy: view\n"; break;
    case Kind::kStaging:
    case Kind::kReplaceAgg: yaml = fmt::format("schedule: {}\nstrategy: replace\n", ScheduleName(n.schedule)); break;
    case Kind::kLookup: yaml = "schedule: daily\nstrategy: replace\nlookup: true\n"; break;
    case Kind::kMerge:
      yaml = fmt::format(
          "schedule: {}\nstrategy: merge\nstart: {}\ntime_column: last_ts\nmerge:\n  keys: [k]\n  rules: {{first_ts: "
          "min, last_ts: max, s: sum, c: count, last_v: latest, first_v: earliest}}\n",
          ScheduleName(n.schedule), FormatIso(Start()));
      break;
    default:
      yaml = fmt::format("schedule: {}\nstrategy: append\nstart: {}\ntime_column: t\n", ScheduleName(n.schedule),
                         FormatIso(Start()));
  }
  std::string sql = TableSql(n), indented;
  for (size_t pos = 0; pos < sql.size();) {
    size_t nl = sql.find('\n', pos);
    std::string line = sql.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    indented += "  " + line + "\n";
    pos = nl == std::string::npos ? sql.size() : nl + 1;
  }
  size_t dot = n.name.find('.');
  WriteText(fs::path(root_) / "tables" / n.name.substr(0, dot) / (n.name.substr(dot + 1) + ".yaml"),
            yaml + "sql: |\n" + indented);
}

void RandomProject::WriteFiles() const {
  WriteText(fs::path(root_) / "derived.yaml",
            postgres() ? "name: random\nwarehouse: {engine: postgres, dsn: \"" + dsn_ + "\"}\n"
                       : "name: random\nwarehouse: {engine: duckdb, path: warehouse.duckdb}\n");
  for (const auto& n : nodes_) {
    std::string file = n.name.substr(n.name.find('.') + 1) + ".yaml";
    switch (n.kind) {
      case Kind::kSource:
        WriteText(fs::path(root_) / "sources" / "raw" / file,
                  std::string("time_column: ts\n") +
                      (n.query_freshness ? fmt::format("freshness: {{query: \"SELECT max(ts) FROM {}\"}}\n", n.name)
                                         : "freshness: marker\n") +
                      kRowColumns);
        break;
      case Kind::kFileSource:
        WriteText(fs::path(root_) / "sources" / "raw" / file,
                  std::string("location: data/f0/*.csv\nfreshness: static\ntime_column: ts\n") + kRowColumns);
        break;
      case Kind::kStaticFile:
        WriteText(fs::path(root_) / "sources" / "raw" / file,
                  "location: data/f1/*.csv\nfreshness: static\ncolumns: [{name: k, type: BIGINT}, {name: cat, type: "
                  "VARCHAR}]\n");
        break;
      case Kind::kDim:
        WriteText(fs::path(root_) / "sources" / "raw" / file,
                  "freshness: static\ncolumns: [{name: k, type: BIGINT}, {name: label, type: VARCHAR}]\n");
        break;
      default: WriteTable(n);
    }
  }
}

std::vector<int64_t> RandomProject::WriteCsvWeek(int week, int version) const {
  std::vector<CsvRow> rows;
  std::vector<int64_t> times;
  for (int h = 0; h < 7 * 24; ++h) {
    int64_t id = 1'000'000 + week * 1000 + h;
    int64_t ts = Start().seconds + (week * 7 * 24 + h) * 3600 + (id * 7) % 3600;
    rows.push_back({id, id % 7, ts, (id * 13 + (h % 5 == 0 ? version * 7 : 0)) % 101, id % 4 == 0 ? -1 : id % 9});
    times.push_back(ts);
  }
  WriteCsvFile(fmt::format("week-{:02}.csv", week), rows);
  return times;
}

void RandomProject::WriteCsvFile(const std::string& name, const std::vector<CsvRow>& rows) const {
  std::string text = "id,k,ts,v,w\n";
  for (const auto& r : rows) {
    std::string iso = FormatIso(Timestamp{r.ts});
    text += fmt::format("{},{},{} {},{},{}\n", r.id, r.k, iso.substr(0, 10), iso.substr(11, 8), r.v,
                        r.w < 0 ? "" : std::to_string(r.w));
  }
  WriteText(fs::path(root_) / "data" / "f0" / name, text);
}

void RandomProject::RemoveCsvFile(const std::string& name) const { fs::remove(fs::path(root_) / "data" / "f0" / name); }

void RandomProject::WriteStaticFile(int version) const {
  std::string text = "k,cat\n";
  for (int k = 0; k < 8; ++k) {
    if (version > 0 && (k + version) % 4 == 0) continue;
    std::string cat = (k + version) % 2 == 0 ? fmt::format("c{}v{}", k, version) : fmt::format("c{}", k);
    text += fmt::format("{},{}\n", k, cat);
  }
  WriteText(fs::path(root_) / "data" / "f1" / "cats.csv", text);
}

RandomProject::Completeness RandomProject::ExpectedCompleteness(const std::map<int, Timestamp>& marks,
                                                                const std::map<int, std::optional<Timestamp>>& max_ts,
                                                                Timestamp now) const {
  Completeness c(nodes_.size());
  const Timestamp forever = *ParseTimestamp("9999-12-31T23:59:59Z");
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GenNode& n = nodes_[i];
    if (n.kind == Kind::kSource) {
      if (n.query_freshness) {
        auto it = max_ts.find(static_cast<int>(i));
        c[i] = it == max_ts.end() ? std::nullopt : it->second;
      } else if (auto it = marks.find(static_cast<int>(i)); it != marks.end()) {
        c[i] = it->second;
      }
      continue;
    }
    if (n.kind == Kind::kFileSource || n.kind == Kind::kStaticFile || n.kind == Kind::kDim) {
      c[i] = forever;
      continue;
    }
    // Every input but the lookup holds it back; the least complete one decides.
    std::optional<Timestamp> inputs = forever;
    for (int in : n.inputs) {
      if (nodes_[in].kind == Kind::kLookup) continue;
      if (!c[in]) inputs.reset();
      if (inputs && c[in]) inputs = std::min(*inputs, *c[in]);
      if (!inputs) break;
    }
    if (!inputs) continue;
    if (n.kind == Kind::kView) {
      c[i] = inputs;
      continue;
    }
    Timestamp f = Floor(std::min(now, *inputs), n.kind == Kind::kLookup ? Schedule::kDaily : n.schedule);
    bool windows = n.appends() || n.kind == Kind::kMerge;
    if (!windows || f > Start()) c[i] = f;
  }
  return c;
}

std::string RandomProject::RowSql(int i) const {
  const GenNode& n = nodes_[i];
  switch (n.kind) {
    case Kind::kSource: return fmt::format("SELECT id, k, ts, v, w FROM {}", n.name);
    case Kind::kFileSource: return "SELECT * FROM " + std::string(kOracleFiles);
    default: return fmt::format("SELECT id, k, ts, v * {} AS v, w FROM ({}) AS r", n.mult, RowSql(n.inputs[0]));
  }
}

std::string RandomProject::OracleSetupSql() const {
  if (postgres()) return "";
  return fmt::format(
      "CREATE OR REPLACE TEMP TABLE {0} AS SELECT CAST(id AS BIGINT) AS id, CAST(k AS BIGINT) AS k, CAST(ts AS "
      "TIMESTAMP) AS ts, CAST(v AS BIGINT) AS v, CAST(w AS BIGINT) AS w FROM read_csv('{1}/data/f0/*.csv', "
      "union_by_name = true); CREATE OR REPLACE TEMP TABLE {2} AS SELECT CAST(k AS BIGINT) AS k, CAST(cat AS VARCHAR) "
      "AS cat FROM read_csv('{1}/data/f1/*.csv', header = true, columns = {{'k': 'BIGINT', 'cat': 'VARCHAR'}})",
      kOracleFiles, root_, kOracleStatic);
}

std::string RandomProject::ExpectedSql(int i, const Completeness& c, const LookupVersions& lookup) const {
  const GenNode& n = nodes_[i];
  std::string through = c[i] ? Lit(*c[i]) : Lit(Start());
  std::string start = Lit(Start());
  auto in = [&](size_t k) { return n.inputs[k]; };
  switch (n.kind) {
    case Kind::kLookup: {
      auto it = lookup.contents.find(lookup.current);
      std::map<int64_t, std::string> none;
      return "SELECT k, label FROM (" + DimSql(it == lookup.contents.end() ? none : it->second) + ") AS d";
    }
    case Kind::kView:
    case Kind::kStaging: return fmt::format("SELECT * FROM ({}) AS r WHERE ts < {}", RowSql(i), through);
    case Kind::kAppendAgg: {
      // With the lookup, each window joins the version it was built from; rows of a
      // window that was never built match nothing.
      std::string versions;
      if (n.joins_lookup) {
        std::string reads, dims;
        auto r = lookup.read.find(i);
        for (const auto& [w, v] : r == lookup.read.end() ? std::vector<std::pair<Window, int64_t>>{} : r->second) {
          reads += fmt::format("{}SELECT {} AS ws, {} AS we, CAST({} AS BIGINT) AS ver",
                               reads.empty() ? "" : " UNION ALL ", Lit(w.start), Lit(w.end), v);
        }
        if (reads.empty()) {
          reads = "SELECT CAST(NULL AS TIMESTAMP) AS ws, CAST(NULL AS TIMESTAMP) AS we, CAST(NULL AS BIGINT) AS ver "
                  "WHERE 1 = 0";
        }
        for (const auto& [v, dim] : lookup.contents) dims += (dims.empty() ? "" : " UNION ALL ") + DimSql(dim, v);
        if (dims.empty()) dims = DimSql({}, 0);
        versions = fmt::format(
            " JOIN ({}) AS w ON i.ts >= w.ws AND i.ts < w.we LEFT JOIN ({}) AS d ON d.ver = w.ver AND d.k = i.k", reads,
            dims);
      }
      return fmt::format(
          "SELECT date_trunc('{0}', i.ts) AS t, i.k{1}{2}, count(*) AS n, sum(i.v * {3}) AS s FROM ({4}) AS i{5}{6} "
          "WHERE i.ts >= {7} AND i.ts < {8} GROUP BY {9}",
          Unit(n.schedule), n.joins_lookup ? ", d.label" : "", n.joins_static ? ", c.cat" : "", n.mult, RowSql(in(0)),
          versions, n.joins_static ? fmt::format(" LEFT JOIN {} c ON c.k = i.k", kOracleStatic) : "", start, through,
          GroupBy(2 + n.joins_lookup + n.joins_static));
    }
    case Kind::kRollup:
      return fmt::format(
          "SELECT date_trunc('{0}', t) AS t, k, sum(n) AS n, sum(s) * {1} AS s FROM ({2}) AS r WHERE t >= {3} AND t < {4} "
          "GROUP BY 1, 2",
          Unit(n.schedule), n.mult, ExpectedSql(in(0), c, lookup), start, through);
    case Kind::kJoin:
      return fmt::format(
          "SELECT a.t, a.k, a.n, a.s + coalesce(b.s, 0) * {0} AS s FROM ({1}) a LEFT JOIN ({2}) b ON b.t = a.t AND "
          "b.k = a.k WHERE a.t >= {3} AND a.t < {4}",
          n.mult, ExpectedSql(in(0), c, lookup), ExpectedSql(in(1), c, lookup), start, through);
    case Kind::kMerge:
      return fmt::format(
          "SELECT k, min(ts) AS first_ts, max(ts) AS last_ts, sum(v * {0}) AS s, count(w) AS c, (array_agg(v ORDER BY ts DESC))[1] AS "
          "last_v, (array_agg(v ORDER BY ts))[1] AS first_v FROM ({1}) AS r WHERE ts >= {2} AND ts < {3} GROUP BY k",
          n.mult, RowSql(in(0)), start, through);
    case Kind::kReplaceAgg:
      return fmt::format("SELECT i.k{0}, count(*) AS n, sum(i.v * {1}) AS s FROM ({2}) AS i{3} WHERE i.ts < {4} "
                         "GROUP BY {5}",
                         n.joins_static ? ", c.cat" : "", n.mult, RowSql(in(0)),
                         n.joins_static ? fmt::format(" LEFT JOIN {} c ON c.k = i.k", kOracleStatic) : "", through,
                         GroupBy(1 + n.joins_static));
    default: return RowSql(i);
  }
}

std::string RandomProject::ActualSql(int i, std::optional<Timestamp> through) const {
  const GenNode& n = nodes_[i];
  if (n.row_level() && through) return fmt::format("SELECT * FROM {} WHERE ts < {}", n.name, Lit(*through));
  return "SELECT * FROM " + n.name;
}

}  // namespace derived::testing
