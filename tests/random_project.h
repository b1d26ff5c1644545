// Random Derived projects for the differential test of readiness, with an oracle that
// says what every table must hold, written independently of Derived's code: each node's
// completeness from the rules in the README, and each table's contents as plain SQL over
// the raw tables and files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "time/schedule.h"

namespace derived::testing {

struct GenNode {
  enum class Kind {
    kSource,      // raw.sN, a warehouse table landed by the driver; marker or query freshness
    kFileSource,  // raw.f0, CSV files, freshness static, time column ts
    kStaticFile,  // raw.f1, one CSV file (k -> cat) without a time column, freshness static
    kDim,         // raw.dim, a static warehouse table (k -> label) the driver updates in place
    kLookup,      // core.dim_l: replace over raw.dim, `lookup: true`
    kView,        // row-level: SELECT id, k, ts, v * m AS v, w FROM input
    kStaging,     // the same as a replace table
    kAppendAgg,   // append: per period and k, from a row-level input (optionally joins the lookup)
    kRollup,      // append: a coarser or equal period from an append aggregate
    kJoin,        // append: two append aggregates of one schedule joined on (t, k)
    kMerge,       // merge per k from a row-level input: min, max, sum, count, latest, earliest
    kReplaceAgg,  // replace: per k from a row-level input, through window_end
  };
  Kind kind = Kind::kSource;
  std::string name;  // dataset.table
  Schedule schedule = Schedule::kDaily;
  std::vector<int> inputs;  // node indices
  int mult = 1;             // a constant in the SQL: changing it changes the definition
  bool joins_lookup = false;     // kAppendAgg: LEFT JOIN core.dim_l (its newest version)
  bool joins_static = false;     // kAppendAgg, kReplaceAgg: LEFT JOIN raw.f1 (DuckDB only)
  bool query_freshness = false;  // kSource: freshness is `SELECT max(ts)`

  bool row_level() const {
    return kind == Kind::kSource || kind == Kind::kFileSource || kind == Kind::kView || kind == Kind::kStaging;
  }
  bool is_source() const {
    return kind == Kind::kSource || kind == Kind::kFileSource || kind == Kind::kStaticFile || kind == Kind::kDim;
  }
  bool appends() const { return kind == Kind::kAppendAgg || kind == Kind::kRollup || kind == Kind::kJoin; }
};

// The lookup core.dim_l as the oracle follows it: the contents of each of its data
// versions (raw.dim as the driver had left it when the version was built), and for each
// reader, the version each part of its time range was built from (what its log rows say
// it read; the driver checks that this was the newest version when it was read).
struct LookupVersions {
  std::map<int64_t, std::map<int64_t, std::string>> contents;  // data version -> k -> label
  int64_t current = 0;                                         // 0: never built
  std::map<int, std::vector<std::pair<Window, int64_t>>> read;  // reader node -> [s, e) -> version
};

class RandomProject {
 public:
  // 2-4 warehouse sources, two file sources (one without a time column), the lookup, and
  // 8-30 tables. With a PostgreSQL connection string, the project builds there, without
  // the file sources (PostgreSQL reads no files), and every query is written in SQL both
  // engines run.
  RandomProject(uint64_t seed, const std::string& root, const std::string& postgres_dsn = "");
  bool postgres() const { return !dsn_.empty(); }

  const std::vector<GenNode>& nodes() const { return nodes_; }
  std::vector<GenNode>& nodes() { return nodes_; }
  const std::string& root() const { return root_; }
  static Timestamp Start();  // every table's start, and the first data

  // derived.yaml, sources/ and tables/ for the nodes as they are now.
  void WriteFiles() const;
  void WriteTable(const GenNode& n) const;
  // One week of the file source (data/f0/week-NN.csv, a row per hour from Start() plus
  // `week` weeks); another `version` varies some values, as a corrected export does.
  // Returns the times of its rows.
  std::vector<int64_t> WriteCsvWeek(int week, int version) const;
  static constexpr int kCsvWeeks = 4;
  // A file of rows (id, k, ts, v, w; w < 0 is empty) landing late in data/f0, or removed.
  struct CsvRow {
    int64_t id, k, ts, v, w;
  };
  void WriteCsvFile(const std::string& name, const std::vector<CsvRow>& rows) const;
  void RemoveCsvFile(const std::string& name) const;
  // The static file source raw.f1 (data/f1/cats.csv): each `version` drops two keys and
  // renames half of the others.
  void WriteStaticFile(int version) const;

  // The oracle's completeness of every node (node index -> through; nullopt: nothing
  // yet), from the marks, the raw data's freshness and the clock.
  using Completeness = std::vector<std::optional<Timestamp>>;
  Completeness ExpectedCompleteness(const std::map<int, Timestamp>& marks,
                                    const std::map<int, std::optional<Timestamp>>& max_ts, Timestamp now) const;

  // Run once before the oracle's queries on a session: the file source's files as they
  // are now, read by DuckDB's CSV reader into a temporary table ("" on PostgreSQL).
  std::string OracleSetupSql() const;
  static constexpr const char* kOracleFiles = "oracle_files";
  static constexpr const char* kOracleStatic = "oracle_static";

  // Plain SQL for what node `i` must hold, given every node's completeness and the
  // lookup's versions: for row-level nodes, all its rows (compare before its
  // completeness); for aggregates, exactly.
  std::string ExpectedSql(int i, const Completeness& c, const LookupVersions& lookup) const;
  int LookupNode() const;  // core.dim_l
  // Derived's contents of node `i` in the same shape (row-level: before `through`).
  std::string ActualSql(int i, std::optional<Timestamp> through) const;

 private:
  std::string TableSql(const GenNode& n) const;
  std::string RowSql(int i) const;  // row-level node `i` as plain SQL over the raw data

  std::string root_, dsn_;
  std::vector<GenNode> nodes_;
};

}  // namespace derived::testing
