// The differential, property-based test of readiness: random projects (random_project.h)
// driven through random steps (staggered arrivals and marks, a clock ahead of the data,
// late data with restatements, changed definitions, a lookup whose source changes in
// place or is corrected and restated, and on DuckDB files that are replaced, added with
// old rows or removed, and a file without a time column that is rewritten), run by `run
// --once` and by the service. After every step, against an oracle that knows nothing of
// Derived's code:
//   (a) every table holds what plain SQL over the raw data says, for its completeness;
//       a window that joins the lookup holds the lookup's version it was built from;
//   (b) every completeness is exactly what the inputs allow: as soon as, and no sooner;
//   (c) no window is applied twice outside repairs, and nothing failed;
//   (d) each window read the lookup's newest version when it was built, as its log row
//       records, and each file change is logged as a restatement naming the files.
// DERIVED_SOAK_SEEDS=N runs N seeds per mode (`make soak SEEDS=N`); CI runs a few.
// DERIVED_SEED=N replays the seed a failure names (with DERIVED_SOAK_SEEDS, starts there).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compile/compiler.h"
#include "engine/engine.h"
#include "engine/intervals.h"
#include "engine_testing.h"
#include "random_project.h"
#include "service/service.h"
#include "time/clock.h"
#include "postgres_testing.h"

namespace derived {
namespace {

using testing::GenNode;
using testing::RandomProject;

Timestamp Hours(Timestamp t, int64_t h) { return {t.seconds + h * 3600}; }

std::string Lit(Timestamp t) { return FormatSqlLiteral(t); }

// The project's warehouse: its DuckDB file, or the PostgreSQL database it names.
std::unique_ptr<Warehouse> OpenFor(const RandomProject& proj, const std::string& dsn) {
  auto wh = testing::OpenTestWarehouse(proj.root() + "/warehouse.duckdb", dsn);
  if (!wh.ok()) throw std::runtime_error(wh.error().message);
  return std::move(*wh);
}

// Brings the warehouse up to date at a time: `run --once` in process, or the service.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual Warehouse& warehouse() = 0;
  virtual void Mark(const std::string& source, Timestamp through, Timestamp now) = 0;
  virtual void Restate(const std::string& source, Window w, Timestamp now) = 0;
  virtual void Reload() = 0;  // the project's files changed
  virtual void Run(Timestamp now) = 0;
  virtual std::vector<TableStatus> Status(Timestamp now) = 0;
};

class OnceRunner final : public Runner {
 public:
  OnceRunner(const RandomProject& proj, const std::string& dsn) : root_(proj.root()), base_(OpenFor(proj, dsn)) {}
  Warehouse& warehouse() override { return *base_; }
  // The pipeline's marks of one moment go through one session, as `derived source mark`
  // for each of them would, without a process for each.
  void Mark(const std::string& source, Timestamp through, Timestamp now) override {
    if (!marker_ || marker_now_ != now) marker_ = Engine(now), marker_now_ = now;
    auto st = marker_->MarkSource(source, through);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Restate(const std::string& source, Window w, Timestamp now) override {
    marker_.reset();
    auto r = Engine(now)->Restate(source, w.start, w.end, nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Expect(*r, "restate " + source);
  }
  void Reload() override { cp_.reset(), marker_.reset(); }
  void Run(Timestamp now) override {
    marker_.reset();
    auto r = Engine(now)->RunOnce("", nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Expect(*r, "run --once");
  }
  std::vector<TableStatus> Status(Timestamp now) override {
    marker_.reset();
    auto s = Engine(now)->Status();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : std::vector<TableStatus>{};
  }

 private:
  std::unique_ptr<derived::Engine> Engine(Timestamp now) {
    if (!cp_) {
      CompileOptions co;
      co.threads = 1;
      co.now = now;
      auto cp = Compile(root_, co);
      if (!cp.ok()) throw std::runtime_error(cp.error().message);
      EXPECT_FALSE(cp->diags.has_errors()) << cp->diags.all().front().ToString();
      cp_ = std::make_shared<CompiledProject>(std::move(*cp));
      an_ = AnalyzeProject(*cp_);
    }
    auto session = base_->Connect();
    auto e = Engine::Open(an_, std::move(*session), now);
    if (!e.ok()) throw std::runtime_error(e.error().message);
    if (auto st = (*e)->LoadSources(); !st.ok()) throw std::runtime_error(st.error().message);
    return std::move(*e);
  }
  static void Expect(const RunReport& r, const std::string& what) {
    for (const auto& o : r.tables) EXPECT_FALSE(o.failed()) << what << ": " << o.table << ": " << o.detail;
  }

  std::string root_;
  std::unique_ptr<Warehouse> base_;
  std::shared_ptr<CompiledProject> cp_;
  std::shared_ptr<const ProjectAnalysis> an_;
  std::unique_ptr<derived::Engine> marker_;
  Timestamp marker_now_;
};

class ServiceRunner final : public Runner {
 public:
  ServiceRunner(const std::string& root, Timestamp now) : clock_(now) {
    ServiceOptions o;
    o.project_dir = root;
    o.workers = 2;
    o.clock = &clock_;
    o.tick_seconds = 0;  // the test ticks
    o.poll_seconds = 1e9;
    o.watch_seconds = 0;  // and reloads
    o.use_cache = false;
    auto svc = Service::Start(o, [this](const ServiceEvent& e) {
      if (e.kind == ServiceEvent::Kind::kFinished && e.outcome.failed()) {
        std::lock_guard lock(mu_);
        failures_.push_back(e.outcome.table + ": " + e.outcome.detail);
      }
    });
    if (!svc.ok()) throw std::runtime_error(svc.error().message);
    svc_ = std::move(*svc);
    auto session = svc_->Connect();
    if (!session.ok()) throw std::runtime_error(session.error().message);
    wh_ = std::move(*session);
  }
  ~ServiceRunner() override {
    wh_.reset();
    svc_.reset();
  }
  Warehouse& warehouse() override { return *wh_; }
  void Mark(const std::string& source, Timestamp through, Timestamp now) override {
    clock_.Set(now);
    auto st = svc_->MarkSource(source, through);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Restate(const std::string& source, Window w, Timestamp now) override {
    clock_.Set(now);
    auto st = svc_->Exclusive([&] {
      auto e = svc_->OpenEngine();
      ASSERT_TRUE(e.ok()) << e.error().message;
      auto r = (*e)->Restate(source, w.start, w.end, nullptr);
      ASSERT_TRUE(r.ok()) << r.error().message;
      for (const auto& o : r->tables) EXPECT_FALSE(o.failed()) << o.table << ": " << o.detail;
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void Reload() override {
    auto r = svc_->Reload();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void Run(Timestamp now) override {
    clock_.Set(now);
    svc_->Tick(true);
    svc_->WaitIdle();
    std::lock_guard lock(mu_);
    for (const auto& f : failures_) ADD_FAILURE() << "the service: " << f;
    failures_.clear();
  }
  std::vector<TableStatus> Status(Timestamp now) override {
    auto e = svc_->OpenEngine();
    EXPECT_TRUE(e.ok());
    if (!e.ok()) return {};
    (*e)->SetNow(now);
    auto s = (*e)->Status();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : std::vector<TableStatus>{};
  }

 private:
  FixedClock clock_;
  std::unique_ptr<Service> svc_;
  std::unique_ptr<Warehouse> wh_;
  std::mutex mu_;
  std::vector<std::string> failures_;
};

struct Tally {
  int seeds = 0, steps = 0, checks = 0, restatements = 0, changes = 0, replaced_files = 0, added_files = 0,
      removed_files = 0, static_rewrites = 0, file_restatements = 0, lookup_changes = 0, lookup_restatements = 0,
      lookup_versions = 0, lookup_reads = 0;
};

// [s, e) -> value, later writes over earlier ones: what each part of a table's time range
// was last built from.
void Paint(std::vector<std::pair<Window, int64_t>>* ranges, Window w, int64_t value) {
  std::vector<std::pair<Window, int64_t>> out;
  for (const auto& [r, v] : *ranges) {
    if (r.start < w.start) out.push_back({{r.start, std::min(r.end, w.start)}, v});
    if (w.end < r.end) out.push_back({{std::max(r.start, w.end), r.end}, v});
  }
  out.push_back({w, value});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
  ranges->clear();
  for (const auto& p : out) {
    if (!ranges->empty() && ranges->back().first.end == p.first.start && ranges->back().second == p.second) {
      ranges->back().first.end = p.first.end;
    } else {
      ranges->push_back(p);
    }
  }
}

// One seed: a project, its raw data as it lands, and the bookkeeping the oracle needs.
class Driver {
 public:
  Driver(uint64_t seed, bool service, bool postgres, Tally* tally)
      : seed_(seed), service_(service), rng_(seed * 7919 + 17),
        pg_(postgres ? std::make_unique<testing::PostgresDatabase>() : nullptr),
        proj_(seed, dir_.str(), pg_ ? pg_->dsn() : ""), tally_(tally) {
    if (pg_ && !pg_->ok()) throw std::runtime_error("no PostgreSQL server");
    proj_.WriteFiles();
    if (!pg_) {
      for (int w = 0; w < RandomProject::kCsvWeeks; ++w) {
        for (int64_t t : proj_.WriteCsvWeek(w, 0)) file_times_.insert(t);
        files_.insert(WeekFile(w));
      }
      proj_.WriteStaticFile(0);
    }
    for (int64_t k = 0; k <= 5; ++k) dim_[k] = fmt::format("label {}", k);
    now_ = Hours(RandomProject::Start(), 6);
    {  // The raw tables exist before anything reads them.
      auto wh = OpenFor(proj_, pg_ ? pg_->dsn() : "");
      std::string sql = "CREATE SCHEMA raw;";
      for (size_t i = 0; i < proj_.nodes().size(); ++i) {
        if (proj_.nodes()[i].kind != GenNode::Kind::kSource) continue;
        sql += fmt::format("CREATE TABLE {} (id BIGINT, k BIGINT, ts TIMESTAMP, v BIGINT, w BIGINT);",
                           proj_.nodes()[i].name);
        landed_[static_cast<int>(i)] = RandomProject::Start();
      }
      sql += "CREATE TABLE raw.dim AS SELECT i AS k, 'label ' || i AS label FROM generate_series(0, 5) t(i);";
      auto st = wh->Execute(sql);
      if (!st.ok()) throw std::runtime_error(st.error().message);
    }
    if (service) {
      runner_ = std::make_unique<ServiceRunner>(dir_.str(), now_);
      // The service starts by updating what it can: that is its first run.
      runner_->Run(now_);
      Check();
    } else {
      runner_ = std::make_unique<OnceRunner>(proj_, pg_ ? pg_->dsn() : "");
    }
  }

  std::string Where() const { return fmt::format("seed {} step {} now {}", seed_, step_, FormatIso(now_)); }

  void Step() {
    ++step_;
    ++tally_->steps;
    // Before the clock moves, while the service is idle: it starts updating tables as
    // soon as the clock moves and a mark wakes them. (A file deleted while a query of
    // the service lists and reads the files fails that query; the table retries later.)
    if (Random(0, 4) == 0) ChangeLookup();
    if (!pg_) ChangeFiles();
    size_t before = service_ ? LogRows() : 0;
    now_ = Hours(now_, Random(0, 60));
    for (auto& [i, landed] : landed_) {
      const GenNode& n = proj_.nodes()[i];
      // Data lands behind the clock, now and then a little ahead of it.
      Timestamp until = std::min(Hours(now_, Random(0, 5) == 0 ? 4 : 0), Hours(landed, Random(0, 96)));
      if (until > landed) Land(i, landed, until);
      landed = std::max(landed, until);
      if (n.query_freshness || Random(0, 3) == 0) continue;
      // The pipeline marks some of what landed: on the hour, exactly, or anywhere.
      Timestamp from = marks_.count(i) ? marks_[i] : RandomProject::Start();
      if (!(from < landed)) continue;
      int64_t span = landed.seconds - from.seconds;
      Timestamp mark = Random(0, 1) ? Timestamp{landed.seconds - landed.seconds % 3600}
                                    : Timestamp{from.seconds + static_cast<int64_t>(rng_() % (span + 1))};
      if (mark > from) {
        marks_[i] = mark;
        runner_->Mark(n.name, mark, now_);
      }
    }
    if (Random(0, 3) == 0) LateData();
    if (Random(0, 4) == 0) ChangeDefinition();
    runner_->Run(now_);
    if (service_) run_phases_.push_back({before, LogRows()});
    Check();
  }

 private:
  int64_t Random(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1)); }

  // Rows of source `i` with times in [from, to): one every hour or two, each time unique
  // in the source (so latest/earliest never tie).
  void Land(int i, Timestamp from, Timestamp to) {
    std::vector<std::string> rows;
    for (int64_t t = from.seconds + Random(0, 3599); t < to.seconds; t += Random(1800, 7200)) rows.push_back(Row(i, t));
    Insert(i, rows);
  }

  std::string Row(int i, int64_t t) {
    while (used_[i].count(t)) ++t;
    used_[i].insert(t);
    int64_t id = next_id_++;
    std::string w = Random(0, 4) == 0 ? "NULL" : std::to_string(Random(0, 9));
    max_ts_[i] = std::max(max_ts_[i].value_or(Timestamp{t}), Timestamp{t});
    return fmt::format("({}, {}, {}, {}, {})", id, Random(0, 7), Lit(Timestamp{t}), Random(0, 100), w);
  }

  void Insert(int i, const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    std::string values;
    for (const auto& r : rows) values += (values.empty() ? "" : ", ") + r;
    auto st = runner_->warehouse().Execute(fmt::format("INSERT INTO {} VALUES {}", proj_.nodes()[i].name, values));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  // Rows arrive for a range already complete, and the pipeline says so.
  void LateData() {
    std::vector<int> complete;
    for (const auto& [i, landed] : landed_) {
      auto c = Complete(i);
      if (c && *c > Hours(RandomProject::Start(), 2)) complete.push_back(i);
    }
    if (complete.empty()) return;
    int i = complete[static_cast<size_t>(Random(0, static_cast<int64_t>(complete.size()) - 1))];
    Timestamp c = *Complete(i);
    Timestamp a{RandomProject::Start().seconds + Random(0, c.seconds - RandomProject::Start().seconds - 3600)};
    Timestamp b = std::min(c, Hours(a, Random(1, 12)));
    std::vector<std::string> rows;
    for (int k = Random(1, 3); k > 0; --k) rows.push_back(Row(i, a.seconds + Random(0, b.seconds - a.seconds - 1)));
    Insert(i, rows);
    runner_->Restate(proj_.nodes()[i].name, {a, b}, now_);
    ++tally_->restatements;
  }

  // The lookup's source changes in place, as a slowly changing dimension does: a key is
  // renamed, added or dropped. Its readers see it once the lookup is next rebuilt (each
  // day), from then on. Now and then it is a correction instead, restated: the lookup is
  // repaired into a new version, and so is every window that read it.
  void ChangeLookup() {
    int64_t k = Random(0, 7);
    std::string sql = fmt::format("DELETE FROM raw.dim WHERE k = {};", k);
    if (dim_.count(k) && dim_.size() > 3 && Random(0, 3) == 0) {
      dim_.erase(k);
    } else {
      dim_[k] = fmt::format("label {} v{}", k, ++dim_edits_);
      sql += fmt::format("INSERT INTO raw.dim VALUES ({}, '{}');", k, dim_[k]);
    }
    auto st = runner_->warehouse().Execute(sql);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ++tally_->lookup_changes;
    if (lookup_.current > 0 && Random(0, 2) == 0) {
      runner_->Restate("raw.dim", {*ParseTimestamp("2000-01-01"), *ParseTimestamp("2100-01-01")}, now_);
      NewLookupVersion();
      ++tally_->lookup_restatements;
    }
  }

  void NewLookupVersion() {
    lookup_.contents[++lookup_.current] = dim_;
    ++tally_->lookup_versions;
  }

  static std::string WeekFile(int week) { return fmt::format("week-{:02}.csv", week); }

  // On DuckDB the file sources change under Derived's feet, one at a time: a week already
  // read is exported again with corrections, a file with old rows lands late, a file is
  // deleted, or the file without a time column is rewritten. Each is a restatement
  // Derived notices.
  void ChangeFiles() {
    int64_t roll = Random(0, 9);
    if (roll < 2) {  // a week already read, mostly
      int64_t weeks = (now_.seconds - RandomProject::Start().seconds) / (7 * 86400);
      int week = static_cast<int>(Random(0, std::min<int64_t>(weeks, RandomProject::kCsvWeeks - 1)));
      for (int64_t t : proj_.WriteCsvWeek(week, ++csv_version_)) file_times_.insert(t);
      FileChanged("raw.f0", "data/f0/" + WeekFile(week), files_.insert(WeekFile(week)).second ? "added" : "changed");
      ++tally_->replaced_files;
    } else if (roll == 2) {  // rows of a day or so in the past, in a file of their own
      Timestamp start = RandomProject::Start();
      int64_t hours = std::min<int64_t>((now_.seconds - start.seconds) / 3600, 28 * 24) - 1;
      if (hours >= 1) {
        int64_t from = start.seconds + Random(0, hours - 1) * 3600;
        int64_t to = std::min(now_.seconds, from + Random(1, 36) * 3600);
        std::vector<RandomProject::CsvRow> rows;
        for (int n = static_cast<int>(Random(2, 6)); n > 0; --n) {
          int64_t t = from + Random(0, to - from - 1);
          while (file_times_.count(t)) ++t;
          file_times_.insert(t);
          rows.push_back({2'000'000 + next_file_id_++, Random(0, 7), t, Random(0, 100), Random(-1, 9)});
        }
        std::string name = fmt::format("late-{:02}.csv", ++late_files_);
        proj_.WriteCsvFile(name, rows);
        files_.insert(name);
        FileChanged("raw.f0", "data/f0/" + name, "added");
        ++tally_->added_files;
      }
    } else if (roll == 3 && files_.size() > 2) {  // one deleted
      auto it = files_.begin();
      std::advance(it, Random(0, static_cast<int64_t>(files_.size()) - 1));
      proj_.RemoveCsvFile(*it);
      FileChanged("raw.f0", "data/f0/" + *it, "removed");
      files_.erase(it);
      ++tally_->removed_files;
    } else if (roll == 4) {
      proj_.WriteStaticFile(++static_version_);
      FileChanged("raw.f1", "data/f1/cats.csv", "changed");
      ++tally_->static_rewrites;
    }
  }

  void FileChanged(const std::string& source, const std::string& path, const std::string& change) {
    pending_files_[source].insert({path, change});
  }

  size_t LogRows() {
    auto rows = runner_->warehouse().Query("SELECT count(*) FROM _derived.log");
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? static_cast<size_t>(std::stoll(rows->at(0, 0).value_or("0"))) : 0;
  }

  void ChangeDefinition() {
    std::vector<int> tables;
    for (size_t i = 0; i < proj_.nodes().size(); ++i) {
      const GenNode& n = proj_.nodes()[i];
      if (!n.is_source() && n.kind != GenNode::Kind::kLookup) tables.push_back(static_cast<int>(i));
    }
    GenNode& n = proj_.nodes()[static_cast<size_t>(tables[static_cast<size_t>(Random(0, tables.size() - 1))])];
    n.mult = n.mult % 3 + 1;
    proj_.WriteTable(n);
    runner_->Reload();
    ++tally_->changes;
  }

  std::optional<Timestamp> Complete(int i) {
    if (proj_.nodes()[i].query_freshness) return max_ts_[i];
    auto it = marks_.find(i);
    return it == marks_.end() ? std::nullopt : std::optional<Timestamp>(it->second);
  }

  std::string Describe(int i) const {
    const GenNode& n = proj_.nodes()[i];
    std::string inputs;
    for (int in : n.inputs) inputs += (inputs.empty() ? "" : ", ") + proj_.nodes()[in].name;
    return fmt::format("{} ({} {}, reads {})", n.name, static_cast<int>(n.kind), ScheduleName(n.schedule), inputs);
  }

  void Check() {
    auto expected = proj_.ExpectedCompleteness(marks_, max_ts_, now_);
    // The lookup reads a static source: it is rebuilt whenever a new day begins, from
    // raw.dim as it is then.
    int li = proj_.LookupNode();
    if (lookup_.current == 0 || expected[li] != lookup_complete_) NewLookupVersion();
    lookup_complete_ = expected[li];
    CheckLog();
    if (::testing::Test::HasFatalFailure()) return;
    std::map<std::string, std::optional<Timestamp>> actual;
    for (const auto& s : runner_->Status(now_)) actual[s.table] = s.complete_through;
    Warehouse& wh = runner_->warehouse();
    if (!pg_) {
      ASSERT_TRUE(wh.Execute(proj_.OracleSetupSql()).ok());
    }
    auto scalar = [&](const std::string& sql) -> std::string {
      auto rows = wh.Query(sql);
      EXPECT_TRUE(rows.ok()) << Where() << "\n" << sql << "\n" << (rows.ok() ? "" : rows.error().message);
      return rows.ok() && rows->size() ? rows->at(0, 0).value_or("NULL") : "ERROR";
    };
    for (size_t i = 0; i < proj_.nodes().size(); ++i) {
      const GenNode& n = proj_.nodes()[i];
      int id = static_cast<int>(i);
      auto show = [](const std::optional<Timestamp>& t) { return t ? FormatIso(*t) : std::string("-"); };
      // (b) as soon as the inputs allow, and no sooner.
      ASSERT_TRUE(actual.count(n.name)) << Where() << ": no status for " << n.name;
      EXPECT_EQ(show(actual[n.name]), show(expected[i])) << Where() << ": completeness of " << Describe(id);
      if (n.is_source()) continue;
      ++tally_->checks;
      // (a) the contents, for that completeness.
      bool windows = n.appends() || n.kind == GenNode::Kind::kMerge;
      if (!expected[i]) {
        if (windows) {
          auto cols = wh.Columns(n.name.substr(0, n.name.find('.')), n.name.substr(n.name.find('.') + 1));
          if (cols.ok() && *cols) {
            EXPECT_EQ(scalar("SELECT count(*) FROM " + n.name), "0") << Where() << Describe(id);
          }
        }
        continue;  // nothing is claimed yet
      }
      std::string want = proj_.ExpectedSql(id, expected, lookup_);
      std::string d = scalar(testing::DifferenceSql(proj_.ActualSql(id, expected[i]), want));
      EXPECT_EQ(d, "0") << Where() << ": contents of " << Describe(id) << " complete through " << show(expected[i])
                        << "\n" << want;
      if (d != "0" && std::getenv("DERIVED_DEBUG")) {
        auto dump = [&](const std::string& sql) {
          auto rows = wh.Query(sql);
          if (!rows.ok()) { std::printf("%s\n", rows.error().message.c_str()); return; }
          for (const auto& r : rows->rows) { for (const auto& v : r) std::printf("%s | ", v.value_or("NULL").c_str()); std::printf("\n"); }
        };
        std::printf("-- actual\n"); dump(proj_.ActualSql(id, expected[i]) + " ORDER BY ALL");
        std::printf("-- expected\n"); dump(want + " ORDER BY ALL");
        std::printf("-- log\n"); dump("SELECT table_name, operation, window_start, window_end, rows_inserted, rows_updated, status, run_id, details FROM _derived.log WHERE table_name IN ('" + n.name + "', '" + proj_.nodes()[n.inputs[0]].name + "') ORDER BY finished_at");
      }
    }
    if (!pg_) CheckFileRestatements();
  }

  // (d) Each change of files is one restatement in the log that names them: of the range
  // they cover, or of all time, without a window, for the file without a time column.
  // (Before anything has read a source nothing is restated; after, every change is.)
  void CheckFileRestatements() {
    auto rows = runner_->warehouse().Query(
        "SELECT table_name, CAST(window_start AS VARCHAR), CAST(details AS VARCHAR) FROM _derived.log WHERE operation = "
        "'restate' AND table_name IN ('raw.f0', 'raw.f1') ORDER BY finished_at, started_at");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    std::map<std::string, std::vector<std::pair<bool, nlohmann::json>>> found;
    for (const auto& r : rows->rows) {
      found[r[0].value_or("")].push_back({r[1].has_value(), nlohmann::json::parse(r[2].value_or("{}"))});
    }
    for (const std::string source : {"raw.f0", "raw.f1"}) {
      auto& pending = pending_files_[source];
      const auto& all = found[source];
      size_t& seen = restates_seen_[source];
      EXPECT_LE(all.size(), seen + 1) << Where() << ": " << source << " restated more than once in one step";
      if (all.size() == seen) {
        EXPECT_TRUE(pending.empty() || seen == 0) << Where() << ": " << source << " read before, but "
                                                  << pending.size() << " file changes were not restated";
        pending.clear();
        continue;
      }
      const auto& [windowed, details] = all.back();
      std::set<std::pair<std::string, std::string>> files;
      for (const auto& f : details.value("files", nlohmann::json::array())) {
        files.insert({f.value("path", ""), f.value("change", "")});
      }
      EXPECT_EQ(files, pending) << Where() << ": " << source << " restated for " << details.dump();
      if (source == "raw.f1") {
        EXPECT_FALSE(windowed) << Where() << ": a file without a time column restates all time, without a window";
        EXPECT_EQ(details.value("range", ""), "all time") << Where() << ": " << details.dump();
      } else {
        EXPECT_TRUE(windowed) << Where() << ": " << details.dump();
      }
      ++tally_->file_restatements;
      seen = all.size();
      pending.clear();
    }
  }

  // (c) Each window of a version is applied once; only repairs go over it again.
  // (d) Each window that joins the lookup records the version it read, and that was the
  // newest when it was read: the one the lookup's latest build before it made (in the
  // service, a build that runs beside it may commit just after it read the one before).
  // What they record becomes the oracle's `lookup_.read`.
  void CheckLog() {
    const SqlDialect& d = runner_->warehouse().dialect();
    auto rows = runner_->warehouse().Query(
        fmt::format("SELECT table_name, operation, run_id, {}, {}, status, coalesce(error, ''), CAST(inputs AS VARCHAR) "
                    "FROM _derived.log ORDER BY finished_at, started_at",
                    d.IsoText("window_start"), d.IsoText("window_end")));
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    const std::string lookup = proj_.nodes()[proj_.LookupNode()].name;
    std::map<std::string, IntervalSet> applied;
    std::map<std::string, std::string> last_op;
    int64_t built = 0;           // the lookup's data version: one per build
    size_t built_at = 0;         // the log row of its latest build
    lookup_.read.clear();
    for (size_t row = 0; row < rows->rows.size(); ++row) {
      const auto& r = rows->rows[row];
      std::string table = r[0].value_or(""), op = r[1].value_or(""), run = r[2].value_or("");
      EXPECT_EQ(r[5].value_or(""), "success") << Where() << ": " << table << " " << op << ": " << r[6].value_or("");
      if (!r[3] || !r[4] || r[5].value_or("") != "success") continue;
      Window w{*ParseTimestamp(*r[3]), *ParseTimestamp(*r[4])};
      if (table == lookup) {
        ++built;
        built_at = row;
        continue;
      }
      int id = -1;
      for (size_t i = 0; i < proj_.nodes().size(); ++i) {
        if (proj_.nodes()[i].name == table) id = static_cast<int>(i);
      }
      if (id < 0) continue;
      const GenNode& n = proj_.nodes()[id];
      if (!(n.appends() || n.kind == GenNode::Kind::kMerge)) continue;
      std::string key = op + " " + run;
      bool rebuilt = op == "rebuild" && last_op[table] != key;
      if (rebuilt) applied[table] = IntervalSet();  // a new version
      last_op[table] = key;
      if (op == "create" || op == "append" || op == "merge") {
        EXPECT_FALSE(applied[table].Intersects(w))
            << Where() << ": " << table << " applied [" << *r[3] << ", " << *r[4] << ") twice";
      }
      applied[table].Add(w);
      if (!n.joins_lookup) continue;
      auto inputs = nlohmann::json::parse(r[7].value_or("{}"), nullptr, false);
      int64_t read = -1;
      if (inputs.is_object() && inputs.contains(lookup)) read = inputs[lookup].value("data_version", int64_t{-1});
      bool beside = false;  // the lookup's latest build ran in the same step of the service
      for (const auto& [from, to] : run_phases_) {
        beside = beside || (from <= built_at && built_at < to && from <= row && row < to);
      }
      EXPECT_TRUE(read == built || (beside && read == built - 1))
          << Where() << ": " << table << " [" << *r[3] << ", " << *r[4] << ") " << op << " read " << lookup
          << " at version " << read << ", but its newest version was " << built << "; inputs " << r[7].value_or("");
      if (rebuilt) lookup_.read[id].clear();
      Paint(&lookup_.read[id], w, read);
      if (row >= log_rows_checked_) ++tally_->lookup_reads;
    }
    log_rows_checked_ = rows->rows.size();
    EXPECT_EQ(built, lookup_.current) << Where() << ": the lookup was built " << built << " times, the oracle expects "
                                      << lookup_.current;
  }

  testing::TempDir dir_;
  uint64_t seed_;
  bool service_;
  std::mt19937_64 rng_;
  std::unique_ptr<testing::PostgresDatabase> pg_;  // the warehouse, on PostgreSQL
  RandomProject proj_;
  Tally* tally_;
  std::unique_ptr<Runner> runner_;
  Timestamp now_;
  int step_ = 0, csv_version_ = 0, static_version_ = 0, late_files_ = 0, dim_edits_ = 0;
  int64_t next_id_ = 1, next_file_id_ = 0;
  std::map<int, Timestamp> landed_, marks_;
  std::map<int, std::optional<Timestamp>> max_ts_;
  std::map<int, std::set<int64_t>> used_;
  // The files of raw.f0 there now, the times of their rows (unique, as in every source),
  // and the changes of each file source not yet seen restated.
  std::set<std::string> files_;
  std::set<int64_t> file_times_;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> pending_files_;
  std::map<std::string, size_t> restates_seen_;
  // raw.dim as it is now, and the lookup over it as the oracle follows it.
  std::map<int64_t, std::string> dim_;
  testing::LookupVersions lookup_;
  std::optional<Timestamp> lookup_complete_;
  size_t log_rows_checked_ = 0;
  // The service: the log rows of each step, from the clock's move to the end of its run.
  std::vector<std::pair<size_t, size_t>> run_phases_;
};

int Seeds(int ci_default) {
  const char* soak = std::getenv("DERIVED_SOAK_SEEDS");
  return soak && std::atoi(soak) > 0 ? std::atoi(soak) : ci_default;
}

void RunSeeds(bool service, int seeds, uint64_t first, int steps, bool postgres = false) {
  // DERIVED_SEED=N replays one seed (as a failure names it), or starts the soak there.
  if (const char* one = std::getenv("DERIVED_SEED"); one && std::atoll(one) > 0) {
    first = static_cast<uint64_t>(std::atoll(one));
    if (!std::getenv("DERIVED_SOAK_SEEDS")) seeds = 1;
  }
  Tally tally;
  for (int s = 0; s < seeds && !::testing::Test::HasFailure(); ++s) {
    Driver d(first + static_cast<uint64_t>(s), service, postgres, &tally);
    for (int k = 0; k < steps && !::testing::Test::HasFailure(); ++k) d.Step();
    ++tally.seeds;
  }
  std::printf("differential readiness (%s%s): %d seeds, %d steps, %d table checks, %d restatements, %d changed "
              "definitions; files: %d replaced, %d added, %d removed, %d static rewrites, %d restatements logged; lookup: "
              "%d changes, %d restated, %d versions, %d window reads checked\n",
              service ? "service" : "run --once", postgres ? ", PostgreSQL" : "", tally.seeds, tally.steps, tally.checks,
              tally.restatements, tally.changes, tally.replaced_files, tally.added_files, tally.removed_files,
              tally.static_rewrites, tally.file_restatements, tally.lookup_changes, tally.lookup_restatements,
              tally.lookup_versions, tally.lookup_reads);
}

// On both engines; on PostgreSQL every project without its file source (DuckDB's alone),
// from seeds of its own.
class DifferentialReadiness : public ::testing::TestWithParam<WarehouseEngine> {
 protected:
  bool postgres() const { return GetParam() == WarehouseEngine::kPostgres; }
};

TEST_P(DifferentialReadiness, RunOnceAgreesWithTheOracleOnRandomProjects) {
  RunSeeds(false, Seeds(postgres() ? 2 : 4), postgres() ? 2001 : 1, 10, postgres());
}

TEST_P(DifferentialReadiness, TheServiceAgreesWithTheOracleOnRandomProjects) {
  RunSeeds(true, Seeds(postgres() ? 1 : 2), postgres() ? 3001 : 1001, 10, postgres());
}

INSTANTIATE_TEST_SUITE_P(BothEngines, DifferentialReadiness, testing::kBothEngines, testing::EngineName);

}  // namespace
}  // namespace derived
