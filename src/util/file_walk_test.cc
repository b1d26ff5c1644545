#include "util/file_walk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

namespace derived {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class WalkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ec;  // so that TempDir can remove it
    fs::permissions(root_ / "locked", fs::perms::owner_all, ec);
  }
  void Touch(const std::string& rel) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << rel;
  }
  std::vector<std::string> Files(const WalkResult& w) {
    std::vector<std::string> out;
    for (const auto& f : w.files) out.push_back(f.path.lexically_relative(root_).generic_string());
    return out;
  }
  std::vector<std::string> Problems(const WalkResult& w) {
    std::vector<std::string> out;
    for (const auto& p : w.problems) out.push_back(p.path.lexically_relative(root_).generic_string() + ": " + p.message);
    return out;
  }
  testing::TempDir dir_;
  const fs::path& root_ = dir_.path();
};

TEST_F(WalkTest, ListsFilesInOrderAndSkipsWhatItIsToldTo) {
  Touch("b/x.yaml");
  Touch("a/y.yaml");
  Touch("a/z.txt");
  Touch(".git/config.yaml");
  WalkOptions options;
  EXPECT_THAT(Files(WalkFiles(root_, options)), ElementsAre(".git/config.yaml", "a/y.yaml", "a/z.txt", "b/x.yaml"));
  options.skip_hidden_directories = true;
  options.wanted = [](const fs::path& p) { return p.extension() == ".yaml"; };
  WalkResult w = WalkFiles(root_, options);
  EXPECT_THAT(Files(w), ElementsAre("a/y.yaml", "b/x.yaml"));
  EXPECT_EQ(w.files[0].size, std::string("a/y.yaml").size());
  EXPECT_TRUE(w.problems.empty());
  EXPECT_TRUE(WalkFiles(root_ / "missing").files.empty());
}

// Issue 10, finding 5: a symlink loop threw filesystem_error out of every walk.
TEST_F(WalkTest, SymlinkLoopsAreReportedAndTheWalkGoesOn) {
  Touch("tables/core/t.yaml");
  fs::create_directory_symlink("..", root_ / "tables/core/up");     // back to tables
  fs::create_directory_symlink("core", root_ / "tables/same");      // a second way in: no loop
  fs::create_symlink("self.yaml", root_ / "tables/core/self.yaml");  // loops on itself
  fs::create_symlink("gone.yaml", root_ / "tables/core/dangling.yaml");
  fs::create_symlink("gone.txt", root_ / "tables/core/dangling.txt");
  WalkOptions options;
  options.follow_directory_symlinks = true;
  options.shown_relative_to = root_;
  options.wanted = [](const fs::path& p) { return p.extension() == ".yaml"; };
  WalkResult w = WalkFiles(root_ / "tables", options);
  EXPECT_THAT(Files(w), ElementsAre("tables/core/t.yaml", "tables/same/t.yaml"));
  EXPECT_THAT(Problems(w),
              ::testing::UnorderedElementsAre(
                  "tables/core/up: symlink loop: it leads back to tables, a folder that holds it",
                  "tables/same/up: symlink loop: it leads back to tables, a folder that holds it",
                  "tables/core/self.yaml: symlink loop: too many levels of symbolic links",
                  "tables/same/self.yaml: symlink loop: too many levels of symbolic links",
                  "tables/core/dangling.yaml: broken symlink: No such file or directory",
                  "tables/same/dangling.yaml: broken symlink: No such file or directory"));
  // Not following links, a looping folder link is just not entered.
  options.follow_directory_symlinks = false;
  w = WalkFiles(root_ / "tables", options);
  EXPECT_THAT(Files(w), ElementsAre("tables/core/t.yaml"));
  EXPECT_EQ(w.problems.size(), 2u);  // self.yaml and dangling.yaml, whatever they would be
}

TEST_F(WalkTest, UnreadableFoldersAreReported) {
  Touch("locked/t.yaml");
  fs::permissions(root_ / "locked", fs::perms::none);
  auto walk_is_right = [&] {
    WalkResult w = WalkFiles(root_);
    return w.files.empty() && w.problems.size() == 1 &&
           Problems(w)[0] == "locked: cannot read the folder: Permission denied";
  };
  if (geteuid() != 0) {
    EXPECT_TRUE(walk_is_right());
    return;
  }
  // Root reads every folder: walk as nobody, in a child process.
  fs::permissions(root_, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool as_nobody = setgid(65534) == 0 && setuid(65534) == 0;
    _exit(as_nobody && walk_is_right() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the walk as nobody did not report the folder";
}

}  // namespace
}  // namespace derived
