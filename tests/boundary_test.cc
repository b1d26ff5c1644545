// The warehouse boundary (warehouse/warehouse.h), enforced on the source tree: the
// engine-neutral layers reach no engine's code, not even through a header they include,
// and hold no SQL that only one engine speaks. Tests of those layers may set up a
// fixture on a given engine; the product code may not.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

namespace derived {
namespace {

namespace fs = std::filesystem;

const fs::path kSrc = fs::path(DERIVED_SOURCE_DIR) / "src";

// The engine-neutral layers.
const char* const kNeutral[] = {"engine", "service", "cli", "metadata"};

// Where one engine's code lives, and the engines' own client headers.
bool IsEngineSpecific(const std::string& include) {
  for (const char* prefix : {"db/", "warehouse/duckdb/", "warehouse/postgres/"}) {
    if (include.rfind(prefix, 0) == 0) return true;
  }
  return include == "duckdb.h" || include == "libpq-fe.h";
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> ProductFiles(const char* folder) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kSrc / folder)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.ends_with("_test.cc")) continue;
    if (name.ends_with(".cc") || name.ends_with(".h")) out.push_back(e.path());
  }
  return out;
}

// Every header `file` includes, directly or through other headers of src/, as written
// in the #include ("warehouse/warehouse.h", "duckdb.h"), each with the chain that leads
// to it.
void Includes(const fs::path& file, const std::string& chain, std::map<std::string, std::string>* seen) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::istringstream lines(Read(file));
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, kInclude)) continue;
    std::string inc = m[1].str();
    if (seen->count(inc)) continue;
    std::string via = chain + " -> " + inc;
    (*seen)[inc] = via;
    if (fs::exists(kSrc / inc)) Includes(kSrc / inc, via, seen);
  }
}

TEST(Boundary, TheNeutralLayersReachNoEngineEvenThroughAHeader) {
  std::vector<std::string> problems;
  for (const char* folder : kNeutral) {
    for (const auto& file : ProductFiles(folder)) {
      std::map<std::string, std::string> seen;
      std::string name = fs::relative(file, kSrc).string();
      Includes(file, name, &seen);
      for (const auto& [inc, via] : seen) {
        if (IsEngineSpecific(inc)) problems.push_back(via);
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << "engine code reached from a neutral layer:\n  " << [&] {
    std::string all;
    for (const auto& p : problems) all += p + "\n  ";
    return all;
  }();
}

// Spellings only one engine understands, as they would appear in SQL Derived writes:
// DuckDB's functions and catalog, PostgreSQL's catalog and upsert, either's DDL
// extensions. Standard SQL that every engine runs as written (the data tests, the
// metadata store's reads and writes) is allowed.
const char* const kEngineOnly[] = {
    "strftime(",    "json_extract", "epoch_ms(",  "create temp", "temporary table", "pg_",      "jsonb",
    "duckdb_",      "pragma ",      "on conflict", "distinct on", "error(",          "alter table", "comment on",
    "regclass",     "current_setting", "read_csv", "read_parquet", "list_",          "::varchar",  "advisory",
};

TEST(Boundary, TheNeutralLayersWriteNoEngineOnlySql) {
  static const std::regex kLiteral(R"lit(R"\(([\s\S]*?)\)"|"((?:[^"\\\n]|\\.)*)")lit");
  static const std::regex kComment(R"(//[^\n]*)");
  std::vector<std::string> problems;
  for (const char* folder : kNeutral) {
    for (const auto& file : ProductFiles(folder)) {
      std::string text = std::regex_replace(Read(file), kComment, "");
      for (auto it = std::sregex_iterator(text.begin(), text.end(), kLiteral); it != std::sregex_iterator(); ++it) {
        std::string lit = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
        for (char& c : lit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const char* word : kEngineOnly) {
          if (lit.find(word) != std::string::npos) {
            problems.push_back(fs::relative(file, kSrc).string() + ": \"" + lit.substr(0, 80) + "\" (" + word + ")");
          }
        }
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << [&] {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  }();
}

// The test above must see what it looks for: a planted spelling is found.
TEST(Boundary, TheSqlScanFindsAPlantedSpelling) {
  std::string lit = "select strftime(ts, '%y') from t";
  bool found = false;
  for (const char* word : kEngineOnly) found = found || lit.find(word) != std::string::npos;
  EXPECT_TRUE(found);
  EXPECT_TRUE(IsEngineSpecific("db/duckdb.h"));
  EXPECT_TRUE(IsEngineSpecific("warehouse/postgres/pq.h"));
  EXPECT_FALSE(IsEngineSpecific("warehouse/warehouse.h"));
}

}  // namespace
}  // namespace derived
