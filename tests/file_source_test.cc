// Sources that are files outside the warehouse: views over parquet, CSV and JSON files
// that DuckDB itself writes, on a real DuckDB warehouse.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "engine_testing.h"
#include "testing.h"
#include "warehouse/duckdb/file_sources.h"
#include "warehouse/duckdb/warehouse.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class FileSource : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wh = OpenDuckDbWarehouse(":memory:", db::FileAccess::Unrestricted());
    ASSERT_TRUE(wh.ok()) << wh.error().message;
    wh_ = std::move(*wh);
    project_.root = dir_.str();
  }

  // Writes the rows of `select` to the project-relative file `rel` (COPY options, such
  // as the format, in `options`).
  void Land(const std::string& rel, const std::string& select, const std::string& options = "FORMAT parquet") {
    std::filesystem::path path = dir_.path() / rel;
    std::filesystem::create_directories(path.parent_path());
    Execute(fmt::format("COPY ({}) TO {} ({})", select, wh_->dialect().Literal(path.string()), options));
  }

  // raw.events, with columns given as {name, type}.
  SourceDef& AddSource(const std::string& location, FileFormat format,
                       const std::vector<std::pair<std::string, std::string>>& columns = {}) {
    SourceDef s;
    s.dataset = "raw";
    s.name = "events";
    s.location = location;
    s.format = format;
    for (const auto& [name, type] : columns) {
      ColumnDef c;
      c.name = name;
      c.type = type;
      s.columns.push_back(c);
    }
    project_.sources.push_back(std::move(s));
    return project_.sources.back();
  }

  std::map<std::string, std::string> Attach() {
    auto r = AttachFileSources(*wh_, project_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::map<std::string, std::string>{{"error", r.error().message}};
  }

  void Execute(const std::string& sql) {
    auto st = wh_->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << "\n" << st.error().message;
  }

  // Every row of `sql`, each as its values joined by '|'.
  std::vector<std::string> Rows(const std::string& sql) {
    auto rows = wh_->Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.error().message;
    std::vector<std::string> out;
    if (!rows.ok()) return out;
    for (const auto& row : rows->rows) {
      std::string line;
      for (const auto& v : row) line += (line.empty() ? "" : "|") + v.value_or("NULL");
      out.push_back(line);
    }
    return out;
  }

  // The view's columns as "name TYPE", or nothing when it does not exist.
  std::vector<std::string> Columns() {
    auto cols = wh_->Columns("raw", "events");
    EXPECT_TRUE(cols.ok());
    std::vector<std::string> out;
    if (cols.ok() && *cols) {
      for (const auto& c : **cols) out.push_back(c.name + " " + c.type);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Warehouse> wh_;
  Project project_;
};

TEST_F(FileSource, ParquetViewSeesFilesLandedAfterAttaching) {
  Land("landing/events/a.parquet", "SELECT range AS id, 'a' AS batch FROM range(3)");
  AddSource("landing/events/*.parquet", FileFormat::kParquet);
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_EQ(Rows("SELECT count(*), min(batch) FROM raw.events"), std::vector<std::string>{"3|a"});

  Land("landing/events/b.parquet", "SELECT 10 + range AS id, 'b' AS batch FROM range(2)");
  EXPECT_EQ(Rows("SELECT batch, count(*) FROM raw.events GROUP BY 1 ORDER BY 1"),
            (std::vector<std::string>{"a|3", "b|2"}));
}

TEST_F(FileSource, CsvAndJsonFromAnAbsoluteLocation) {
  Land("landing/csv/a.csv", "SELECT 1 AS id, 'x,y' AS note", "FORMAT csv, HEADER");
  AddSource((dir_.path() / "landing/csv/*.csv").string(), FileFormat::kCsv);
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_EQ(Rows("SELECT * FROM raw.events"), std::vector<std::string>{"1|x,y"});

  project_.sources.clear();
  Land("landing/json/a.ndjson", "SELECT 1 AS id, [1, 2] AS xs", "FORMAT json");
  Land("landing/json/b.ndjson", "SELECT 2 AS id, [] AS xs", "FORMAT json");
  AddSource("landing/json/*.ndjson", FileFormat::kJson);
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_EQ(Rows("SELECT id, len(xs) FROM raw.events ORDER BY id"), (std::vector<std::string>{"1|2", "2|0"}));
}

TEST_F(FileSource, NoFileYetMeansNoViewUntilOneLands) {
  AddSource("landing/events/*.parquet", FileFormat::kParquet);
  auto unattached = Attach();
  EXPECT_EQ(unattached["raw.events"], "no file matches landing/events/*.parquet yet");
  EXPECT_THAT(Columns(), IsEmpty());

  Land("landing/events/a.parquet", "SELECT 1 AS id");
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_EQ(Rows("SELECT * FROM raw.events"), std::vector<std::string>{"1"});

  // The files went away: the view that would fail on every read goes too.
  std::filesystem::remove(dir_.path() / "landing/events/a.parquet");
  EXPECT_EQ(Attach()["raw.events"], "no file matches landing/events/*.parquet yet");
  EXPECT_THAT(Columns(), IsEmpty());
}

TEST_F(FileSource, DeclaredColumnsAreExactlyTheViewsColumnsAcrossEvolvingFiles) {
  Land("landing/events/a.parquet", "SELECT 1::INTEGER AS id, '2024-01-02 03:00:00' AS ts, 'x' AS dropped");
  AddSource("landing/events/*.parquet", FileFormat::kParquet,
            {{"id", "BIGINT"}, {"ts", "TIMESTAMP"}, {"note", ""}});
  // A declared column no file has yet cannot be selected.
  EXPECT_THAT(Attach()["raw.events"], HasSubstr("cannot read landing/events/*.parquet: Binder Error"));

  // A later file brings the column; the first file reads it as NULL.
  Land("landing/events/b.parquet", "SELECT 2::BIGINT AS id, TIMESTAMP '2024-01-03' AS ts, 'n' AS note, 5 AS extra");
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_EQ(Columns(), (std::vector<std::string>{"id BIGINT", "ts TIMESTAMP", "note VARCHAR"}));
  EXPECT_EQ(Rows("SELECT * FROM raw.events ORDER BY id"),
            (std::vector<std::string>{"1|2024-01-02 03:00:00|NULL", "2|2024-01-03 00:00:00|n"}));

  // The schema is pinned, so files with yet other columns keep the view readable.
  Land("landing/events/c.parquet", "SELECT 3::SMALLINT AS id, 'late' AS other");
  EXPECT_EQ(Rows("SELECT count(*), count(ts) FROM raw.events"), std::vector<std::string>{"3|2"});
}

TEST_F(FileSource, ABadFileLeavesNothingBehind) {
  dir_.Write("landing/events/a.parquet", "not a parquet file");
  AddSource("landing/events/*.parquet", FileFormat::kParquet);
  // The error names the file that cannot be read, not only the glob.
  EXPECT_THAT(Attach()["raw.events"], HasSubstr("cannot read landing/events/a.parquet: "));
  EXPECT_THAT(Columns(), IsEmpty());
  EXPECT_THAT(Rows("SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'raw'"), IsEmpty());

  // A view that read the good files before the bad one landed is dropped as well.
  std::filesystem::remove(dir_.path() / "landing/events/a.parquet");
  Land("landing/events/good.parquet", "SELECT 1 AS id");
  EXPECT_THAT(Attach(), IsEmpty());
  dir_.Write("landing/events/z.parquet", "not a parquet file");
  EXPECT_THAT(Attach()["raw.events"], HasSubstr("cannot read landing/events/z.parquet: "));
  EXPECT_THAT(Columns(), IsEmpty());
}

TEST_F(FileSource, ACsvThatCannotBeReadIsNamed) {
  dir_.Write("landing/c/good.csv", "a,b\n1,2\n");
  dir_.Write("landing/c/bad.csv", "a,b\n1,\xff\xfe\n3,\"unterminated\n");
  AddSource("landing/c/*.csv", FileFormat::kCsv);
  EXPECT_THAT(Attach()["raw.events"], HasSubstr("cannot read landing/c/bad.csv: "));
}

TEST_F(FileSource, ATableOfTheSameNameIsLeftAlone) {
  Execute("CREATE SCHEMA raw; CREATE TABLE raw.events AS SELECT 42 AS id");
  Land("landing/events/a.parquet", "SELECT 1 AS id");
  AddSource("landing/events/*.parquet", FileFormat::kParquet);
  EXPECT_THAT(Attach()["raw.events"], HasSubstr("cannot read landing/events/*.parquet: Catalog Error"));
  EXPECT_EQ(Rows("SELECT id FROM raw.events"), std::vector<std::string>{"42"});
}

TEST_F(FileSource, SourcesInTheWarehouseAreNotTouched) {
  SourceDef& s = AddSource("", FileFormat::kParquet);
  s.name = "in_warehouse";
  EXPECT_THAT(Attach(), IsEmpty());
  EXPECT_THAT(Rows("SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'raw'"), IsEmpty());
}

// The whole engine: a source waits for its first file, tables build from the files, and
// files landed later flow through the next run.
TEST(FileSourceEngine, TablesBuildFromLandedFiles) {
  testing::WarehouseProject p;
  p.Write("sources/raw/events.yaml", R"(time_column: ts
freshness: marker
location: landing/events/*.parquet
columns:
  - {name: user_id, type: BIGINT}
  - {name: ts, type: TIMESTAMP}
)");
  p.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
start: 2024-01-01
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, count(*) AS events, count(DISTINCT user_id) AS users
  FROM raw.events
  WHERE ts >= {{ window_start }} AND ts < {{ window_end }}
  GROUP BY 1
)");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-03"}).exit_code, 0);
  auto r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(p.Derived({"status"}, "2024-02-01").out, HasSubstr("no file matches landing/events/*.parquet yet"));

  auto land = [&](const std::string& file, const std::string& day) {
    std::filesystem::create_directories(p.dir().path() / "landing/events");
    p.Sql(fmt::format("COPY (SELECT range % 3 AS user_id, TIMESTAMP '{}' + INTERVAL (range) HOUR AS ts FROM "
                      "range(24)) TO '{}' (FORMAT parquet)",
                      day, (p.dir().path() / "landing/events" / file).string()));
  };
  land("a.parquet", "2024-01-01");
  land("b.parquet", "2024-01-02");
  r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("core.daily  create: 2 windows"));
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 2);

  land("c.parquet", "2024-01-03");
  ASSERT_EQ(p.Derived({"source", "mark", "raw.events", "--through", "2024-01-04"}).exit_code, 0);
  r = p.Derived({"run", "--once"}, "2024-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.Difference("SELECT day, events, users FROM core.daily",
                         "SELECT date_trunc('day', ts)::TIMESTAMP, count(*), count(DISTINCT user_id) FROM "
                         "read_parquet('" + (p.dir().path() / "landing/events/*.parquet").string() + "') GROUP BY 1"),
            0);
  EXPECT_EQ(p.Count("SELECT count(*) FROM core.daily"), 3);
}

}  // namespace
}  // namespace derived
