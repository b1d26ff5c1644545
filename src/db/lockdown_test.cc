// The lock-down as DuckDB itself reports it. Nothing here tries the network: what could
// reach it is shown off by the engine's settings, never attempted.
#include "db/lockdown.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "db/duckdb.h"
#include "testing.h"

namespace derived::db {
namespace {

using ::testing::HasSubstr;

class LockdownTest : public ::testing::Test {
 protected:
  void Open(const OpenOptions& options) {
    auto db = Database::Open(":memory:", options);
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    auto conn = Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(*conn);
  }

  std::string Setting(const std::string& name) {
    auto rows = conn_->Query("SELECT value FROM duckdb_settings() WHERE name = " + QuoteLiteral(name));
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() && rows->size() == 1 ? rows->at(0, 0).value_or("NULL") : "?";
  }

  std::string ErrorOf(const std::string& sql) {
    auto st = conn_->Execute(sql);
    return st.ok() ? "" : st.error().message;
  }

  testing::TempDir inside_, outside_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(LockdownTest, NoExtensionIsInstalledOrAutoloadedAndDerivedsOwnAreLoaded) {
  Open({});
  EXPECT_EQ(Setting("autoinstall_known_extensions"), "false");
  EXPECT_EQ(Setting("autoload_known_extensions"), "false");
  EXPECT_EQ(Setting("allow_community_extensions"), "false");
  EXPECT_EQ(Setting("allow_unsigned_extensions"), "false");
  EXPECT_EQ(Setting("allow_persistent_secrets"), "false");
  EXPECT_EQ(Setting("custom_extension_repository"), kNoExtensionRepository);
  EXPECT_EQ(Setting("autoinstall_extension_repository"), kNoExtensionRepository);
  EXPECT_FALSE(std::filesystem::exists(kNoExtensionRepository));
  EXPECT_EQ(Setting("enable_external_access"), "false");
  EXPECT_EQ(Setting("lock_configuration"), "true");
  EXPECT_EQ(Setting("TimeZone"), "UTC");
  // Its own extensions are there (duckdb_extensions() itself would read the extension
  // directory, which is outside what the database may reach): a function of each.
  auto loaded = conn_->Query(
      "SELECT string_agg(DISTINCT function_name, ',' ORDER BY function_name) FROM duckdb_functions() WHERE "
      "function_name IN ('json_serialize_sql', 'read_parquet', 'icu_sort_key')");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->at(0, 0), "icu_sort_key,json_serialize_sql,read_parquet");
  EXPECT_THAT(ErrorOf("SELECT * FROM duckdb_extensions()"), HasSubstr("Permission Error"));
}

TEST_F(LockdownTest, NoStatementCanWidenItAgain) {
  Open({});
  for (const char* sql : {"SET enable_external_access = true", "SET GLOBAL enable_external_access = true",
                          "RESET enable_external_access", "SET lock_configuration = false",
                          "SET autoinstall_known_extensions = true", "SET autoload_known_extensions = true",
                          "SET allow_community_extensions = true", "SET custom_extension_repository = 'x'",
                          "SET allowed_directories = ['/']", "SET allowed_paths = ['/etc/passwd']",
                          "SET TimeZone = 'UTC'"}) {
    EXPECT_THAT(ErrorOf(sql), HasSubstr("the configuration has been locked")) << sql;
  }
  // Naming a schema is not configuration.
  EXPECT_EQ(ErrorOf("SET search_path = 'main'"), "");
  EXPECT_EQ(Setting("enable_external_access"), "false");
}

TEST_F(LockdownTest, FilesOnlyWhereAllowed) {
  inside_.Write("in/a.csv", "x\n1\n");
  outside_.Write("b.csv", "x\n2\n");
  OpenOptions options;
  options.files.directories = {(inside_.path() / "in").string()};
  Open(options);
  auto rows = conn_->Query("SELECT x FROM read_csv(" + QuoteLiteral((inside_.path() / "in/a.csv").string()) + ")");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->at(0, 0), "1");
  std::string outside = (outside_.path() / "b.csv").string();
  for (const std::string& sql :
       {"SELECT * FROM read_csv(" + QuoteLiteral(outside) + ")", std::string("SELECT * FROM read_text('/etc/passwd')"),
        "SELECT * FROM read_csv(" + QuoteLiteral((inside_.path() / "in/../../").string() + outside_.path().filename().string() + "/b.csv") + ")",
        "COPY (SELECT 1) TO " + QuoteLiteral((outside_.path() / "out.csv").string()),
        "ATTACH " + QuoteLiteral((outside_.path() / "other.duckdb").string())}) {
    EXPECT_THAT(ErrorOf(sql), HasSubstr("Permission Error")) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(outside_.path() / "out.csv"));
  EXPECT_FALSE(std::filesystem::exists(outside_.path() / "other.duckdb"));
  // A sibling whose name merely starts the same is outside.
  inside_.Write("in2/c.csv", "x\n3\n");
  EXPECT_THAT(ErrorOf("SELECT * FROM read_csv(" + QuoteLiteral((inside_.path() / "in2/c.csv").string()) + ")"),
              HasSubstr("Permission Error"));
}

TEST_F(LockdownTest, TheFirstConnectionHasTheSessionSettingsAndOnlyIt) {
  OpenOptions options;
  options.session = {{"errors_as_json", "true"}};
  Open(options);
  EXPECT_EQ(Setting("errors_as_json"), "true");
  auto second = Connection::Open(*db_);
  ASSERT_TRUE(second.ok());
  auto rows = (*second)->Query("SELECT current_setting('errors_as_json')");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(0, 0), "false");
}

TEST_F(LockdownTest, UnrestrictedReachesFilesButKeepsTheRestLocked) {
  outside_.Write("b.csv", "x\n2\n");
  OpenOptions options;
  options.files = FileAccess::Unrestricted();
  Open(options);
  auto rows = conn_->Query("SELECT x FROM read_csv(" + QuoteLiteral((outside_.path() / "b.csv").string()) + ")");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(Setting("lock_configuration"), "true");
  EXPECT_EQ(Setting("autoinstall_known_extensions"), "false");
}

}  // namespace
}  // namespace derived::db
