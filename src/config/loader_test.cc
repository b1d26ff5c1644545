#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Project EmptyProject() {
  Project p;
  p.root = "/nonexistent";
  return p;
}

// Parses a table file and returns the diagnostics as "line:col: message" strings.
struct TableParse {
  std::optional<TableDef> table;
  Diagnostics diags;
  std::string All() const {
    std::string s;
    for (const auto& d : diags.all()) s += d.ToString() + "\n";
    return s;
  }
};

TableParse ParseTable(const std::string& yaml, const Project& project = EmptyProject()) {
  TableParse r;
  r.table = ParseTableFile("tables/core/t.yaml", yaml, "core", "t", project, &r.diags);
  return r;
}

const char* kValidAppend = R"(description: d
schedule: daily
strategy: append
time_column: day
start: 2024-01-01
sql: select 1 as day
)";

TEST(TableFile, ValidAppendTableWithDefaultsFromPath) {
  auto r = ParseTable(kValidAppend);
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->dataset, "core");
  EXPECT_EQ(r.table->name, "t");
  EXPECT_EQ(r.table->qualified_name(), "core.t");
  EXPECT_EQ(r.table->schedule, Schedule::kDaily);
  EXPECT_EQ(r.table->window, (Duration{1, TimeUnit::kDay}));
  EXPECT_EQ(r.table->strategy, Strategy::kAppend);
  EXPECT_EQ(r.table->start->seconds, 1704067200);
  EXPECT_EQ(r.table->sql.text, "select 1 as day");
  EXPECT_EQ(r.table->sql.first_line, 6);
  EXPECT_TRUE(r.diags.all().empty());
}

TEST(TableFile, BlockSqlStartsOnTheNextLine) {
  auto r = ParseTable("schedule: daily\nsql: |\n  select 1\n  from x\n");
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->sql.first_line, 3);
  EXPECT_EQ(r.table->sql.text, "select 1\nfrom x\n");
}

TEST(TableFile, NameAndDatasetOverrideThePath) {
  auto r = ParseTable("name: Other\ndataset: Mart\nschedule: hourly\nwindow: 3 hours\nsql: select 1\n");
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->qualified_name(), "mart.other");
  EXPECT_EQ(r.table->window, (Duration{3, TimeUnit::kHour}));
}

TEST(TableFile, UnknownKeySuggestsTheClosest) {
  auto r = ParseTable("shedule: daily\nschedule: daily\nsql: select 1\n");
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("tables/core/t.yaml:1:1: error: unknown key 'shedule' in table (did you mean "
                                 "'schedule'?)"));
}

TEST(TableFile, MisspelledRequiredFieldIsReportedOnce) {
  auto r = ParseTable("schedul: daily\nsql: select 1\n");
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:1:1: error: unknown key 'schedul' in table (did you mean 'schedule'?)"));
  EXPECT_THAT(r.All(), Not(HasSubstr("missing required field 'schedule'")));
  r = ParseTable("sql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:1:1: error: table is missing required field 'schedule'"));
}

TEST(TableFile, Batch) {
  auto r = ParseTable("schedule: hourly\nbatch: 48\nsql: select 1\n");
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->batch, 48);
  r = ParseTable("schedule: hourly\nbatch: 0\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:8: error: 'batch' must be between 1 and 100000 windows, got 0"));
  r = ParseTable("schedule: hourly\nbatch: many\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:8: error: 'batch' must be an integer"));
}

TEST(TableFile, DuplicateKey) {
  auto r = ParseTable("schedule: daily\nschedule: hourly\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:1: error: duplicate key 'schedule'"));
}

TEST(TableFile, InvalidYamlNamesLineAndColumn) {
  auto r = ParseTable("schedule: daily\nsql: [unclosed\n");
  EXPECT_FALSE(r.table);
  ASSERT_EQ(r.diags.all().size(), 1u);
  EXPECT_THAT(r.All(), HasSubstr("invalid YAML"));
  EXPECT_EQ(r.diags.all()[0].where.file, "tables/core/t.yaml");
  EXPECT_GT(r.diags.all()[0].where.line, 0);
}

TEST(TableFile, RootMustBeAMapping) {
  auto r = ParseTable("- a\n- b\n");
  EXPECT_THAT(r.All(), HasSubstr("table must be a mapping of keys to values, got a list"));
}

TEST(TableFile, WrongTypesNameTheField) {
  auto r = ParseTable("schedule: [daily]\ntags: {a: 1}\ndescription: [x]\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:1:11: error: 'schedule' must be a string, got a list"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:7: error: 'tags' must be a list of strings, got a mapping"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:3:14: error: 'description' must be a string, got a list"));
}

TEST(TableFile, MissingScheduleAndSql) {
  auto r = ParseTable("description: x\n");
  EXPECT_THAT(r.All(), HasSubstr("missing required field 'schedule'"));
  EXPECT_THAT(r.All(), HasSubstr("missing required field 'sql' (or 'sql_file')"));
}

TEST(TableFile, ScheduleFromProjectDefaults) {
  Project p = EmptyProject();
  p.defaults.schedule = Schedule::kWeekly;
  p.defaults.start = Timestamp{86400};
  p.defaults.owner = "team";
  auto r = ParseTable("strategy: append\ntime_column: d\nsql: select 1 as d\n", p);
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->schedule, Schedule::kWeekly);
  EXPECT_EQ(r.table->window, (Duration{1, TimeUnit::kWeek}));
  EXPECT_EQ(r.table->start->seconds, 86400);
  EXPECT_EQ(r.table->owner, "team");
}

TEST(TableFile, BadScheduleWindowStartStrategy) {
  auto r = ParseTable("schedule: daly\nwindow: 3 fortnights\nstart: 2024-02-30\nstrategy: upsert\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:1:11: error:"));
  EXPECT_THAT(r.All(), HasSubstr("did you mean 'daily'?"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:9: error:"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:3:8: error:"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:4:11: error: unknown strategy 'upsert': expected replace, append, merge or view"));
}

// An invalid start is one error, not a second one saying that start is missing.
TEST(TableFile, InvalidStartIsReportedOnce) {
  auto r = ParseTable("schedule: daily\nstrategy: append\ntime_column: ts\nstart: 2024-02-30\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:4:8: error: invalid timestamp '2024-02-30'"));
  EXPECT_THAT(r.All(), Not(HasSubstr("needs 'start'")));
  EXPECT_EQ(r.diags.error_count(), 1u) << r.All();
}

TEST(TableFile, ViewsHaveNoScheduleWindowsOrStorage) {
  auto r = ParseTable("strategy: view\nschedule: daily\nwindow: 2 days\ncluster_by: [a]\nlookup: true\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:1: error: 'schedule' has no meaning for a view"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:3:1: error: 'window' has no meaning for a view"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:4:1: error: 'cluster_by' has no meaning for a view"));
  r = ParseTable("strategy: view\nlookup: true\nsql: select 1\n");
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->strategy, Strategy::kView);
  EXPECT_TRUE(r.table->lookup);
  r = ParseTable("strategy: view\nlookup: sometimes\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:9: error:"));
}

TEST(TableFile, AppendNeedsTimeColumnAndStart) {
  auto r = ParseTable("schedule: daily\nstrategy: append\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:1: error: strategy 'append' needs 'time_column'"));
  EXPECT_THAT(r.All(), HasSubstr("strategy 'append' needs 'start'"));
}

TEST(TableFile, MergeConfig) {
  auto r = ParseTable(R"(schedule: daily
strategy: merge
time_column: ts
start: 2024-01-01
merge:
  keys: [user_id]
  rules: {first_seen: min, last_seen: MAX, n: sum}
sql: select 1
)");
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->merge.keys, std::vector<std::string>{"user_id"});
  EXPECT_EQ(r.table->merge.rules.at("first_seen"), MergeRule::kMin);
  EXPECT_EQ(r.table->merge.rules.at("last_seen"), MergeRule::kMax);
  EXPECT_EQ(r.table->merge.rules.at("n"), MergeRule::kSum);
}

TEST(TableFile, MergeErrors) {
  auto r = ParseTable(R"(schedule: daily
strategy: merge
time_column: ts
start: 2024-01-01
merge:
  keys: [user_id]
  rules: {user_id: min, x: minimum, y: coalesse}
  extra: 1
sql: select 1
)");
  EXPECT_THAT(r.All(), HasSubstr("unknown merge rule 'minimum' for column 'x': expected one of latest, earliest, min, "
                                 "max, sum, count, coalesce\n"));
  EXPECT_THAT(r.All(), HasSubstr("unknown merge rule 'coalesse' for column 'y': expected one of latest, earliest, min, "
                                 "max, sum, count, coalesce (did you mean 'coalesce'?)"));
  EXPECT_THAT(r.All(), HasSubstr("merge key 'user_id' cannot also have a merge rule"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:8:3: error: unknown key 'extra' in 'merge'"));
}

TEST(TableFile, MergeStrategyNeedsKeysAndMergeNeedsMergeStrategy) {
  auto r = ParseTable("schedule: daily\nstrategy: merge\ntime_column: t\nstart: 2024-01-01\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("strategy 'merge' needs 'merge: {keys: [...]}'"));
  r = ParseTable("schedule: daily\nmerge: {keys: [a]}\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:2:1: error: 'merge' is only used with strategy 'merge'"));
  r = ParseTable("schedule: daily\nstrategy: merge\ntime_column: t\nstart: 2024-01-01\nmerge: {rules: {}}\nsql: x\n");
  EXPECT_THAT(r.All(), HasSubstr("'merge' is missing required field 'keys'"));
}

TEST(TableFile, Columns) {
  auto r = ParseTable(R"(schedule: daily
columns:
  - {name: User_Id, type: BIGINT, description: who, tags: [pii]}
  - name: day
sql: select 1
)");
  ASSERT_TRUE(r.table) << r.All();
  ASSERT_EQ(r.table->columns.size(), 2u);
  EXPECT_EQ(r.table->columns[0].name, "user_id");
  EXPECT_EQ(r.table->columns[0].type, "BIGINT");
  EXPECT_EQ(r.table->columns[0].tags, std::vector<std::string>{"pii"});
  EXPECT_EQ(r.table->columns[1].where.line, 4);
}

TEST(TableFile, ColumnErrors) {
  auto r = ParseTable(R"(schedule: daily
columns:
  - {name: a, typ: INT}
  - {type: INT}
  - {name: a}
  - {name: "bad name"}
  - just_a_string
sql: select 1
)");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:3:15: error: unknown key 'typ' in column (did you mean 'type'?)"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:4:5: error: column is missing required field 'name'"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:5:12: error: column 'a' is declared twice"));
  EXPECT_THAT(r.All(), HasSubstr("column name 'bad name' is not a SQL identifier"));
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:7:5: error: column must be a mapping"));
  r = ParseTable("schedule: daily\ncolumns: {a: 1}\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("'columns' must be a list"));
}

TEST(TableFile, Tests) {
  auto r = ParseTable(R"(schedule: daily
tests:
  - not_null: [a, B]
  - unique: a
  - accepted_values: {column: p, values: [ios, web]}
  - relationships: {column: user_id, to: core.users, field: id}
  - row_count: {min: 1, max: 10}
  - row_count: {min: 2}
  - name: no_negative
    sql: select * from t where x < 0
sql: select 1
)");
  ASSERT_TRUE(r.table) << r.All();
  const auto& t = r.table->tests;
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0].kind, TestDef::Kind::kNotNull);
  EXPECT_EQ(t[0].columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t[0].name, "not_null_a_b");
  EXPECT_EQ(t[1].columns, std::vector<std::string>{"a"});
  EXPECT_EQ(t[2].values, (std::vector<std::string>{"ios", "web"}));
  EXPECT_EQ(t[3].to_table, "core.users");
  auto unqualified = ParseTable("schedule: daily\ntests: [{relationships: {column: a, to: Users}}]\nsql: select 1\n");
  ASSERT_TRUE(unqualified.table) << unqualified.All();
  EXPECT_EQ(unqualified.table->tests[0].to_table, "core.users");  // the table's own dataset
  EXPECT_EQ(t[3].to_column, "id");
  EXPECT_EQ(*t[4].min_rows, 1);
  EXPECT_EQ(*t[4].max_rows, 10);
  EXPECT_EQ(t[4].name, "row_count_1");
  EXPECT_EQ(t[5].name, "row_count_2");
  EXPECT_FALSE(t[5].max_rows);
  EXPECT_EQ(t[6].kind, TestDef::Kind::kSql);
  EXPECT_EQ(t[6].name, "no_negative");
}

TEST(TableFile, TestErrors) {
  auto r = ParseTable(R"(schedule: daily
tests:
  - not_nul: [a]
  - {not_null: [a], unique: [a]}
  - accepted_values: {column: p}
  - row_count: {min: 5, max: 1}
  - row_count: {}
  - sql: "  "
  - not_null: []
  - plain
sql: select 1
)");
  std::string all = r.All();
  EXPECT_THAT(all, HasSubstr("t.yaml:3:5: error: unknown test 'not_nul' (did you mean 'not_null'?): a test is one of "
                             "not_null, unique, accepted_values, relationships, row_count, sql"));
  EXPECT_THAT(all, HasSubstr("a test needs exactly one of"));
  EXPECT_THAT(all, HasSubstr("'accepted_values' is missing required field 'values'"));
  EXPECT_THAT(all, HasSubstr("'row_count' min 5 is greater than max 1"));
  EXPECT_THAT(all, HasSubstr("'row_count' needs 'min', 'max' or both"));
  EXPECT_THAT(all, HasSubstr("a custom 'sql' test needs a query"));
  EXPECT_THAT(all, HasSubstr("'not_null' needs at least one column"));
  EXPECT_THAT(all, HasSubstr("t.yaml:10:5: error: a test must be a mapping"));
  r = ParseTable("schedule: daily\ntests: {a: 1}\nsql: select 1\n");
  EXPECT_THAT(r.All(), HasSubstr("'tests' must be a list"));
}

TEST(TableFile, SqlSources) {
  auto r = ParseTable("schedule: daily\nsql: select 1\nsql_file: t.sql\n");
  EXPECT_THAT(r.All(), HasSubstr("t.yaml:3:11: error: give either 'sql' or 'sql_file', not both"));
  r = ParseTable("schedule: daily\nsql: '   '\n");
  EXPECT_THAT(r.All(), HasSubstr("the SQL is empty"));
  r = ParseTable("schedule: daily\nsql_file: missing.sql\n");
  EXPECT_THAT(r.All(), HasSubstr("cannot read sql_file 'missing.sql' (looked for tables/core/missing.sql)"));
}

TEST(TableFile, SqlFileIsReadRelativeToTheYaml) {
  testing::TempDir dir;
  dir.Write("tables/core/t.sql", "select 42 as x\n");
  Project p = EmptyProject();
  p.root = dir.str();
  auto r = ParseTable("schedule: daily\nsql_file: t.sql\n", p);
  ASSERT_TRUE(r.table) << r.All();
  EXPECT_EQ(r.table->sql.text, "select 42 as x\n");
  EXPECT_EQ(r.table->sql.file, "tables/core/t.sql");
  EXPECT_EQ(r.table->sql.first_line, 1);
}

TEST(TableFile, NamesMustBeIdentifiers) {
  Diagnostics d;
  auto t = ParseTableFile("tables/core/my-table.yaml", "schedule: daily\nsql: select 1\n", "core", "my-table",
                          EmptyProject(), &d);
  EXPECT_FALSE(t);
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_THAT(d.all()[0].message, HasSubstr("name 'my-table' (taken from the file's path) is not a SQL identifier"));
  Diagnostics d2;
  t = ParseTableFile("tables/x.yaml", "schedule: daily\nsql: select 1\n", "", "x", EmptyProject(), &d2);
  ASSERT_EQ(d2.all().size(), 1u);
  EXPECT_THAT(d2.all()[0].message, HasSubstr("missing 'dataset'"));
}

// --- sources ------------------------------------------------------------------

TEST(SourceFile, MarkerAndQueryFreshness) {
  Diagnostics d;
  auto s = ParseSourceFile("sources/raw/e.yaml", "freshness: marker\ntime_column: ts\ncolumns: [{name: ts, type: TIMESTAMP}]\n",
                           "raw", "e", &d);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->qualified_name(), "raw.e");
  EXPECT_EQ(s->freshness.kind, Freshness::Kind::kMarker);
  s = ParseSourceFile("sources/raw/e.yaml", "freshness: {query: select max(ts) from raw.e}\n", "raw", "e", &d);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->freshness.kind, Freshness::Kind::kQuery);
  EXPECT_EQ(s->freshness.query, "select max(ts) from raw.e");
  s = ParseSourceFile("sources/raw/e.yaml", "freshness: static\nlookup: true\n", "raw", "e", &d);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->freshness.kind, Freshness::Kind::kStatic);
  EXPECT_TRUE(s->lookup);
  EXPECT_TRUE(d.all().empty());
}

TEST(SourceFile, Errors) {
  auto errors = [](const std::string& yaml) {
    Diagnostics d;
    EXPECT_FALSE(ParseSourceFile("sources/raw/e.yaml", yaml, "raw", "e", &d));
    std::string s;
    for (const auto& x : d.all()) s += x.ToString() + "\n";
    return s;
  };
  EXPECT_THAT(errors("description: x\n"), HasSubstr("source is missing required field 'freshness'"));
  EXPECT_THAT(errors("freshness: daily\n"), HasSubstr("e.yaml:1:12: error: unknown freshness 'daily'"));
  EXPECT_THAT(errors("freshness: statik\n"), HasSubstr("(did you mean 'static'?)"));
  EXPECT_THAT(errors("freshness: {query: ''}\n"), HasSubstr("the freshness query is empty"));
  EXPECT_THAT(errors("freshness: {sql: x}\n"), HasSubstr("unknown key 'sql' in 'freshness'"));
  EXPECT_THAT(errors("freshness: [a]\n"), HasSubstr("'freshness' must be 'marker', 'static' or a mapping"));
  EXPECT_THAT(errors("freshness: marker\nschedule: daily\n"), HasSubstr("unknown key 'schedule' in source"));
  EXPECT_THAT(errors("freshness: marker\ntime_column: tz\ncolumns: [{name: ts}]\n"),
              HasSubstr("time_column 'tz' is not one of the declared columns (did you mean 'ts'?)"));
}

TEST(SourceFile, FileLocationAndFormat) {
  auto parse = [](const std::string& yaml) {
    Diagnostics d;
    auto s = ParseSourceFile("sources/raw/e.yaml", "freshness: marker\n" + yaml, "raw", "e", &d);
    EXPECT_TRUE(d.all().empty()) << yaml;
    return s.value_or(SourceDef{});
  };
  SourceDef s = parse("location: landing/events/*.parquet\n");
  EXPECT_EQ(s.location, "landing/events/*.parquet");
  EXPECT_EQ(s.format, FileFormat::kParquet);
  EXPECT_EQ(parse("location: /data/e/*.CSV.GZ\n").format, FileFormat::kCsv);
  EXPECT_EQ(parse("location: landing/e/*.ndjson\n").format, FileFormat::kJson);
  EXPECT_EQ(parse("location: landing/e/*.json.gz\n").format, FileFormat::kJson);
  EXPECT_EQ(parse("location: landing/e/*\nformat: JSON\n").format, FileFormat::kJson);
  EXPECT_EQ(parse("location: landing/e/*.csv\nformat: parquet\n").format, FileFormat::kParquet);  // format wins
  EXPECT_EQ(parse("description: in the warehouse\n").location, "");
}

TEST(SourceFile, FileLocationErrors) {
  auto errors = [](const std::string& yaml) {
    Diagnostics d;
    EXPECT_FALSE(ParseSourceFile("sources/raw/e.yaml", "freshness: marker\n" + yaml, "raw", "e", &d));
    std::string s;
    for (const auto& x : d.all()) s += x.ToString() + "\n";
    return s;
  };
  EXPECT_THAT(errors("location: ''\n"), HasSubstr("e.yaml:2:11: error: 'location' is empty: give a glob of files"));
  EXPECT_THAT(errors("location: landing/e/*.parquet\nformat: parket\n"),
              HasSubstr("e.yaml:3:9: error: unknown format 'parket': expected parquet, csv or json (did you mean "
                        "'parquet'?)"));
  EXPECT_THAT(errors("location: landing/e/*.txt\n"),
              HasSubstr("e.yaml:2:11: error: cannot tell the format of 'landing/e/*.txt' from its extension (.parquet, "
                        ".csv, .csv.gz, .json, .jsonl, .ndjson or .json.gz): add 'format: parquet', 'csv' or 'json'"));
  EXPECT_THAT(errors("format: csv\n"), HasSubstr("e.yaml:2:1: error: 'format' is only used with 'location'"));
  EXPECT_THAT(errors("location: [a.csv]\n"), HasSubstr("e.yaml:2:11: error: 'location' must be a string, got a list"));
  EXPECT_THAT(errors("locaton: a.csv\n"), HasSubstr("unknown key 'locaton' in source (did you mean 'location'?)"));
}

// --- derived.yaml ---------------------------------------------------------------

TEST(ProjectFile, ReadsEverything) {
  Project p;
  Diagnostics d;
  auto st = ParseProjectFile("derived.yaml", R"(name: demo
warehouse: {engine: duckdb, path: w.duckdb}
vars: {n: 3, f: 1.5, s: "3", b: true, l: [a, 1], nested: {k: v}}
defaults: {start: 2024-01-02, schedule: hourly, owner: me}
removed_tables: {keep_for: 30 days}
)",
                             &p, &d);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(p.name, "demo");
  EXPECT_EQ(p.warehouse.path, "w.duckdb");
  EXPECT_EQ(p.vars["n"], 3);
  EXPECT_EQ(p.vars["f"], 1.5);
  EXPECT_EQ(p.vars["s"], "3");
  EXPECT_EQ(p.vars["b"], true);
  EXPECT_EQ(p.vars["l"][0], "a");
  EXPECT_EQ(p.vars["nested"]["k"], "v");
  EXPECT_EQ(p.defaults.start->seconds, 1704153600);
  EXPECT_EQ(*p.defaults.schedule, Schedule::kHourly);
  EXPECT_EQ(p.defaults.owner, "me");
  ASSERT_TRUE(p.removed_table_retention.has_value());
  EXPECT_EQ(*p.removed_table_retention, (Duration{30, TimeUnit::kDay}));
}

TEST(ProjectFile, Errors) {
  auto errors = [](const std::string& yaml) {
    Project p;
    Diagnostics d;
    EXPECT_FALSE(ParseProjectFile("derived.yaml", yaml, &p, &d).ok());
    std::string s;
    for (const auto& x : d.all()) s += x.ToString() + "\n";
    return s;
  };
  EXPECT_THAT(errors(""), HasSubstr("derived.yaml is empty"));
  EXPECT_THAT(errors("warehouse: {engine: duckdb}\n"), HasSubstr("derived.yaml is missing required field 'name'"));
  EXPECT_THAT(errors("name: x\nwarehouse: {engine: snowflake}\n"),
              HasSubstr("derived.yaml:2:21: error: unsupported warehouse engine 'snowflake'"));
  EXPECT_THAT(errors("name: x\nvars: [1]\n"), HasSubstr("'vars' must be a mapping"));
  EXPECT_THAT(errors("name: x\ndefaults: {start: soon}\n"), HasSubstr("derived.yaml:2:19: error: invalid timestamp"));
  EXPECT_THAT(errors("name: x\nremoved_tables: {keep_for: soon}\n"),
              HasSubstr("derived.yaml:2:28: error: removed_tables.keep_for: invalid duration 'soon'"));
  EXPECT_THAT(errors("name: x\nremoved_tables: {keep: 3 days}\n"), HasSubstr("unknown key 'keep'"));
  EXPECT_THAT(errors("name: x\nvarz: {}\n"), HasSubstr("unknown key 'varz' in derived.yaml (did you mean 'vars'?)"));
}

// --- whole projects -----------------------------------------------------------------

TEST(LoadProject, NoProjectFile) {
  testing::TempDir dir;
  Diagnostics d;
  auto p = LoadProject(dir.str(), &d);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("no derived.yaml"));
  auto q = LoadProject(dir.str() + "/nope", &d);
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.error().message, HasSubstr("does not exist"));
}

TEST(LoadProject, CollectsErrorsFromEveryFile) {
  testing::TempDir dir;
  dir.Write("derived.yaml", "name: p\n");
  dir.Write("sources/raw/a.yaml", "freshness: marker\n");
  dir.Write("sources/raw/bad.yaml", "freshnes: marker\n");
  dir.Write("tables/core/good.yaml", "schedule: daily\nsql: select 1\n");
  dir.Write("tables/core/bad1.yaml", "schedule: dayly\nsql: select 1\n");
  dir.Write("tables/mart/bad2.yaml", "schedule: daily\n");
  dir.Write("tables/core/notes.txt", "ignored");
  dir.Write("macros/m.sql", "{% macro x() %}1{% endmacro %}");
  Diagnostics d;
  auto p = LoadProject(dir.str(), &d, {2});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->sources.size(), 1u);
  ASSERT_EQ(p->tables.size(), 1u);
  EXPECT_EQ(p->tables[0].qualified_name(), "core.good");
  EXPECT_EQ(p->macros.size(), 1u);
  EXPECT_EQ(d.error_count(), 4u);  // freshnes (unknown + missing freshness), dayly, missing sql
  std::set<std::string> files;
  for (const auto& x : d.all()) files.insert(x.where.file);
  EXPECT_EQ(files, (std::set<std::string>{"sources/raw/bad.yaml", "tables/core/bad1.yaml", "tables/mart/bad2.yaml"}));
  std::vector<std::string> broken;
  for (const auto& b : p->broken) broken.push_back(b.file + "=" + Join(b.names, ","));
  EXPECT_EQ(broken, (std::vector<std::string>{"sources/raw/bad.yaml=raw.bad", "tables/core/bad1.yaml=core.bad1",
                                              "tables/mart/bad2.yaml=mart.bad2"}));
  EXPECT_EQ(p->FindBroken("CORE.bad1")->file, "tables/core/bad1.yaml");
  EXPECT_NE(p->FindTable("core.good"), nullptr);
  EXPECT_NE(p->FindSource("raw.a"), nullptr);
  EXPECT_EQ(p->FindTable("raw.a"), nullptr);
}

TEST(LoadProject, DuplicateNamesAcrossFiles) {
  testing::TempDir dir;
  dir.Write("derived.yaml", "name: p\n");
  dir.Write("sources/core/t.yaml", "freshness: marker\n");
  dir.Write("tables/core/t.yaml", "schedule: daily\nsql: select 1\n");
  dir.Write("tables/other/t2.yaml", "dataset: core\nname: t\nschedule: daily\nsql: select 1\n");
  Diagnostics d;
  auto p = LoadProject(dir.str(), &d);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(d.error_count(), 2u);
  for (const auto& x : d.all()) EXPECT_THAT(x.message, HasSubstr("'core.t' is defined twice"));
}

TEST(LoadProject, BadProjectFileIsFatalWithItsErrors) {
  testing::TempDir dir;
  dir.Write("derived.yaml", "name: p\nwarehouse: {engine: oracle}\n");
  Diagnostics d;
  auto p = LoadProject(dir.str(), &d);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("derived.yaml:2:21: error: unsupported warehouse engine 'oracle'"));
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

// A table renamed by its own keys is still recognised when a typo breaks its YAML, so it
// is held as broken rather than taken for removed.
TEST(LoadProject, ABrokenFileNamesWhatItsOwnKeysDeclare) {
  testing::TempDir dir;
  dir.Write("derived.yaml", "name: p\n");
  dir.Write("tables/core/file.yaml", "dataset: marts\nname: signups  # renamed\nschedule: daily\n\twindow: 1 day\nsql: select 1\n");
  Diagnostics d;
  auto p = LoadProject(dir.str(), &d, {1});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->tables.empty());
  ASSERT_EQ(p->broken.size(), 1u);
  EXPECT_EQ(p->broken[0].names, (std::vector<std::string>{"core.file", "marts.signups"}));
  EXPECT_FALSE(p->broken[0].source);
  EXPECT_NE(p->FindBroken("marts.signups"), nullptr);
  EXPECT_EQ(p->FindBroken("core.other"), nullptr);
}

// Issue 10, finding 6: an alias bomb ran for minutes. Files are bounded in size, values
// (aliases expanded) and nesting, each an error at the file and line.
TEST(TableFile, YamlIsBoundedInSizeValuesAndNesting) {
  std::string bomb = std::string(kValidAppend) + "x:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (char level = 'b'; level <= 'f'; ++level) {
    std::string prev(1, static_cast<char>(level - 1));
    bomb += std::string("  ") + level + ": &" + level + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  auto r = ParseTable(bomb);
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("tables/core/t.yaml:"));
  EXPECT_THAT(r.All(), HasSubstr("the YAML holds more than 100000 values once its aliases (*name) are expanded"));
  // Below the bound the same aliases are fine (the unknown key aside).
  r = ParseTable(std::string(kValidAppend) + "tags: &t [a, b]\nowner: x\n");
  EXPECT_TRUE(r.table) << r.All();
  r = ParseTable(std::string(kValidAppend) + "tags: &t [a, *t]\n");
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("tables/core/t.yaml:7:7: error: the YAML nests lists and mappings more than 64 deep"));
  r = ParseTable(std::string(kValidAppend) + "description: " + std::string(size_t{4} << 20, 'x') + "\n");
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("tables/core/t.yaml:1:1: error: the file is larger than 4 MiB, the most Derived reads"));
}

TEST(TableFile, NegativeRowCountIsAnError) {
  auto r = ParseTable(std::string(kValidAppend) + "tests:\n  - row_count: {min: -1}\n");
  EXPECT_FALSE(r.table);
  EXPECT_THAT(r.All(), HasSubstr("tables/core/t.yaml:8:22: error: 'row_count' min must be 0 or more, got -1"));
}

TEST(ProjectFile, AbsurdStartIsAnErrorAtItsLine) {
  Project p;
  Diagnostics diags;
  Status st = ParseProjectFile("derived.yaml", "name: x\ndefaults:\n  start: 0001-01-01\n", &p, &diags);
  EXPECT_FALSE(st.ok());
  ASSERT_EQ(diags.all().size(), 1u);
  EXPECT_EQ(diags.all()[0].ToString(),
            "derived.yaml:3:10: error: timestamp '0001-01-01' is out of range: expected one from 1900-01-01 up to (not "
            "including) 2200-01-01");
}

}  // namespace
}  // namespace derived
