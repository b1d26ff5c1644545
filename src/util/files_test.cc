#include "util/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing.h"

namespace derived {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FilesTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& rel) const { return (dir_.path() / rel).string(); }
  static std::string Mode(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return "missing";
    char text[8];
    std::snprintf(text, sizeof text, "%04o", st.st_mode & 07777);
    return text;
  }
  testing::TempDir dir_;
  const std::string root_ = dir_.str();
};

TEST_F(FilesTest, ReadsAreBoundedAndNeverBlock) {
  std::ofstream(Path("a.yaml")) << "name: x\n";
  EXPECT_EQ(*ReadFileLimited(Path("a.yaml"), 100), "name: x\n");
  EXPECT_EQ(*ReadFileLimited(Path("a.yaml"), 8), "name: x\n");
  auto big = ReadFileLimited(Path("a.yaml"), 7, "tables/a.yaml");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message, "tables/a.yaml is larger than 7 bytes, the most Derived reads");
  auto dir = ReadFileLimited(root_, 100, "tables");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().message, "cannot read tables: not a regular file");
  auto missing = ReadFileLimited(Path("missing.yaml"), 100, "missing.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "cannot read missing.yaml: No such file or directory");
  // A FIFO (or /dev/zero behind a symlink) is refused at once instead of read for ever.
  ASSERT_EQ(mkfifo(Path("fifo.sql").c_str(), 0600), 0);
  EXPECT_THAT(ReadFileLimited(Path("fifo.sql"), 100).error().message, HasSubstr("not a regular file"));
  EXPECT_THAT(ReadFileLimited("/dev/zero", 100).error().message, HasSubstr("not a regular file"));
}

// Issue 10, finding 12: what Derived keeps for itself is private whatever the umask.
TEST_F(FilesTest, WhatDerivedCreatesIsPrivate) {
  mode_t saved = umask(0);
  ASSERT_TRUE(CreatePrivateDirectories(Path(".derived/checkouts")).ok());
  EXPECT_EQ(Mode(Path(".derived")), "0700");
  EXPECT_EQ(Mode(Path(".derived/checkouts")), "0700");
  ASSERT_TRUE(WritePrivateFile(Path(".derived/cache.json"), "{}").ok());
  EXPECT_EQ(Mode(Path(".derived/cache.json")), "0600");
  // Replaced whole, keeping the mode; a symlink planted at the temporary name is not followed.
  fs::create_symlink(Path("elsewhere"), Path(".derived/cache.json.tmp"));
  ASSERT_TRUE(WritePrivateFile(Path(".derived/cache.json"), "{\"a\": 1}").ok());
  EXPECT_EQ(*ReadFileLimited(Path(".derived/cache.json"), 100), "{\"a\": 1}");
  EXPECT_EQ(Mode(Path(".derived/cache.json")), "0600");
  EXPECT_FALSE(fs::exists(Path("elsewhere")));
  umask(saved);
  // A file in the way of a folder is an error naming it.
  std::ofstream(Path("file")) << "x";
  auto st = CreatePrivateDirectories(Path("file/sub"));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("a file of that name is in the way"));
}

}  // namespace
}  // namespace derived
