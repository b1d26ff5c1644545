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
    kFileSource,  // raw.f0, a CSV file, freshness static
    kDim,         // raw.dim, a static lookup table (k -> label) that never changes
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
  bool joins_lookup = false;
  bool query_freshness = false;  // kSource: freshness is `SELECT max(ts)`

  bool row_level() const {
    return kind == Kind::kSource || kind == Kind::kFileSource || kind == Kind::kView || kind == Kind::kStaging;
  }
  bool is_source() const { return kind == Kind::kSource || kind == Kind::kFileSource || kind == Kind::kDim; }
  bool appends() const { return kind == Kind::kAppendAgg || kind == Kind::kRollup || kind == Kind::kJoin; }
};

class RandomProject {
 public:
  // 2-4 warehouse sources, one file source, the lookup, and 8-30 tables. With a
  // PostgreSQL connection string, the project builds there, without the file source
  // (PostgreSQL reads no files), and every query is written in SQL both engines run.
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
  void WriteCsvWeek(int week, int version) const;
  static constexpr int kCsvWeeks = 4;

  // The oracle's completeness of every node (node index -> through; nullopt: nothing
  // yet), from the marks, the raw data's freshness and the clock.
  using Completeness = std::vector<std::optional<Timestamp>>;
  Completeness ExpectedCompleteness(const std::map<int, Timestamp>& marks,
                                    const std::map<int, std::optional<Timestamp>>& max_ts, Timestamp now) const;

  // Run once before the oracle's queries on a session: the file source's files as they
  // are now, read by DuckDB's CSV reader into a temporary table ("" on PostgreSQL).
  std::string OracleSetupSql() const;
  static constexpr const char* kOracleFiles = "oracle_files";

  // Plain SQL for what node `i` must hold, given every node's completeness: for row-level
  // nodes, all its rows (compare before its completeness); for aggregates, exactly.
  std::string ExpectedSql(int i, const Completeness& c) const;
  // Derived's contents of node `i` in the same shape (row-level: before `through`).
  std::string ActualSql(int i, std::optional<Timestamp> through) const;

 private:
  std::string TableSql(const GenNode& n) const;
  std::string RowSql(int i) const;  // row-level node `i` as plain SQL over the raw data

  std::string root_, dsn_;
  std::vector<GenNode> nodes_;
};

}  // namespace derived::testing
