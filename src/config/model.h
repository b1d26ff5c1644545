// The project model: what a user wrote in derived.yaml, sources/ and tables/, checked and
// normalized. Pure data; loading lives in loader.h.
#pragma once

#include <map>
#include <string_view>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "time/schedule.h"
#include "time/timestamp.h"
#include "util/status.h"

namespace derived {

struct ColumnDef {
  std::string name;  // lowercase
  std::string type;  // as written (e.g. "BIGINT"); empty when not declared
  std::string description;
  std::vector<std::string> tags;
  Location where;
};

// kView: a view in the warehouse, no storage and no windows; complete as far as its inputs.
enum class Strategy { kReplace, kAppend, kMerge, kView };
std::string_view StrategyName(Strategy s);

// How a merge combines an existing row with an incoming row for the same key.
enum class MergeRule { kLatest, kEarliest, kMin, kMax, kSum, kCount, kCoalesce };
std::string_view MergeRuleName(MergeRule r);

struct MergeConfig {
  std::vector<std::string> keys;
  std::map<std::string, MergeRule> rules;  // column -> rule; unlisted columns use kLatest
  Location where;
};

// A data test run before a mutation commits (see the build engine).
struct TestDef {
  enum class Kind { kNotNull, kUnique, kAcceptedValues, kRelationships, kRowCount, kSql };
  Kind kind = Kind::kNotNull;
  std::string name;                  // user-given or generated, unique per table
  std::vector<std::string> columns;  // not_null, unique; accepted_values/relationships: one column
  std::vector<std::string> values;   // accepted_values
  std::string to_table;              // relationships: the referenced table, dataset.table
  std::string to_column;             // relationships: its column
  std::optional<int64_t> min_rows, max_rows;  // row_count
  std::string sql;                   // custom: a query returning offending rows
  Location where;
};
std::string_view TestKindName(TestDef::Kind k);

// SQL text and where it came from, so errors can point into the right file and line.
struct SqlText {
  std::string text;
  std::string file;    // project-relative path of the file holding the text
  int first_line = 1;  // line in `file` of the text's first line
};

// A table or source file that does not load, and the names it may define: the one from
// the folder layout and, when they can still be read, those its own `dataset:` and
// `name:` keys give (so a renamed table is protected too).
struct BrokenFile {
  std::string file;  // project-relative path
  std::vector<std::string> names;
  bool source = false;
};

struct TableDef {
  std::string dataset;  // lowercase; defaults to the folder name under tables/
  std::string name;     // lowercase; defaults to the file name
  std::string file;     // project-relative path of the YAML file
  std::string description;
  std::string owner;
  std::vector<std::string> tags;
  Schedule schedule = Schedule::kDaily;
  Duration window;                 // defaults to one schedule period
  std::optional<Timestamp> start;  // from the table or the project defaults
  // Windows per query when building many at once (initial population, rebuilds and
  // backfills); unset = a default per schedule, or 1 when `window` is not one period.
  std::optional<int64_t> batch;
  Strategy strategy = Strategy::kReplace;
  std::string time_column;
  std::vector<std::string> partition_by;
  std::vector<std::string> cluster_by;
  MergeConfig merge;
  // Readers use its newest version and never wait for it to be complete (a slowly
  // changing dimension); without it, a reader's window waits until this table is complete
  // through the window's end.
  bool lookup = false;
  std::vector<ColumnDef> columns;
  std::vector<TestDef> tests;
  SqlText sql;
  std::map<std::string, Location> field_locations;  // where each top-level key was written

  std::string qualified_name() const { return dataset + "." + name; }
  // Location of a top-level field, falling back to the file itself.
  Location LocationOf(const std::string& field) const;
};

// How Derived learns through when a source's data is complete.
struct Freshness {
  // kMarker: `derived source mark`; kQuery: a query returning the timestamp; kStatic:
  // complete for all time (a seed, a lookup file): a change to it is a restatement.
  enum class Kind { kMarker, kQuery, kStatic };
  Kind kind = Kind::kMarker;
  std::string query;  // kQuery: returns the timestamp through which data is complete
};
std::string_view FreshnessName(Freshness::Kind k);  // marker, query, static

// How the files of a file source are read.
enum class FileFormat { kParquet, kCsv, kJson };
std::string_view FileFormatName(FileFormat f);

struct SourceDef {
  std::string dataset;
  std::string name;
  std::string file;
  std::string description;
  std::string owner;
  std::vector<std::string> tags;
  std::string time_column;
  std::vector<ColumnDef> columns;
  Freshness freshness;
  // A file source: a glob of files read in place (relative to the project root or
  // absolute), and their format. Empty for a table already in the warehouse.
  std::string location;
  FileFormat format = FileFormat::kParquet;
  bool lookup = false;  // readers never wait for it (see TableDef::lookup)
  std::map<std::string, Location> field_locations;

  std::string qualified_name() const { return dataset + "." + name; }
  Location LocationOf(const std::string& field) const;
};

enum class WarehouseEngine { kDuckDb, kPostgres };
std::string_view EngineName(WarehouseEngine engine);  // "duckdb", "postgres"

struct WarehouseConfig {
  WarehouseEngine engine = WarehouseEngine::kDuckDb;
  // DuckDB: the database file, relative to the project root.
  std::string path = "warehouse.duckdb";
  // PostgreSQL: a libpq connection string ("host=... port=... dbname=... user=..."), in
  // which ${NAME} is replaced by the environment variable NAME when the warehouse is
  // opened. Never a password: libpq reads that from PGPASSWORD, ~/.pgpass or a service file.
  std::string dsn;
};

// Eleven years of hourly windows.
inline constexpr int64_t kDefaultMaxWindowsPerRun = 100000;

struct ProjectDefaults {
  std::optional<Timestamp> start;
  std::optional<Schedule> schedule;
  std::string owner;
};

struct MacroFile {
  std::string file;  // project-relative
  std::string text;
};

struct Project {
  std::string root;  // absolute path of the project directory
  std::string name;
  WarehouseConfig warehouse;
  nlohmann::json vars = nlohmann::json::object();  // template variables, as YAML gave them
  ProjectDefaults defaults;
  // How long a table removed from the project keeps its data before it is dropped
  // (`removed_tables: {keep_for: 30 days}`); unset: until `derived drop`.
  std::optional<Duration> removed_table_retention;
  // Shadow environments (`shadow: {last: 3 days, expire_after: 7 days}`): the windows a
  // build covers by default (back from now), and how long an environment nobody builds
  // lives.
  struct Shadow {
    Duration last{3, TimeUnit::kDay};
    Duration expire_after{7, TimeUnit::kDay};
  } shadow;
  // Schedule periods one table may plan in one run (`limits: {max_windows_per_run: N}`):
  // a start in year 1 or a clock in year 9999 fails the table instead of planning millions.
  int64_t max_windows_per_run = kDefaultMaxWindowsPerRun;
  std::vector<SourceDef> sources;  // sorted by qualified name
  std::vector<TableDef> tables;    // sorted by qualified name
  std::vector<MacroFile> macros;   // sorted by file
  // Files under sources/ or tables/ that exist but failed to load. What they define is
  // *broken*, never removed: its data is kept, it is not updated, its readers wait, and
  // references to it are not reported again as unknown tables.
  std::vector<BrokenFile> broken;

  const TableDef* FindTable(std::string_view qualified_name) const;
  const SourceDef* FindSource(std::string_view qualified_name) const;
  // The broken file that may define `qualified_name`; nullptr when none does.
  const BrokenFile* FindBroken(std::string_view qualified_name) const;
  // True for a table or source declared `lookup: true`: its readers never wait for it.
  bool IsLookup(std::string_view qualified_name) const;
};

}  // namespace derived
