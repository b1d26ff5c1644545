#include "deploy/manifest_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "testing.h"

namespace derived::deploy {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

std::set<std::string> Listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

TEST(ManifestDir, WritesANewFolderAndReplacesItWholeNextTime) {
  TempDir tmp;
  std::string out = tmp.str() + "/k8s";
  auto dir = ManifestDir::Open(out);
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  ASSERT_TRUE((*dir)->Commit({{"a.yaml", "a: 1\n"}, {"b.yaml", "b: 2\n"}}).ok());
  EXPECT_EQ(Listing(out), (std::set<std::string>{".derived-deploy", "a.yaml", "b.yaml"}));
  EXPECT_EQ(tmp.Read("k8s/a.yaml"), "a: 1\n");

  dir = ManifestDir::Open(out + "/");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  ASSERT_TRUE((*dir)->Commit({{"c.yaml", "c: 3\n"}}).ok());
  // b.yaml of the earlier run is gone, and no staging folder is left beside it.
  EXPECT_EQ(Listing(out), (std::set<std::string>{".derived-deploy", "c.yaml"}));
  EXPECT_EQ(Listing(tmp.path()), (std::set<std::string>{"k8s"}));
}

TEST(ManifestDir, NeverReplacesAFolderItDidNotWrite) {
  TempDir tmp;
  tmp.Write("mine/notes.txt", "keep me");
  auto dir = ManifestDir::Open(tmp.str() + "/mine");
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.error().message, HasSubstr("did not write"));
  EXPECT_EQ(tmp.Read("mine/notes.txt"), "keep me");
  tmp.Write("file", "x");
  EXPECT_FALSE(ManifestDir::Open(tmp.str() + "/file").ok());
  fs::create_directory(tmp.path() / "empty");
  EXPECT_TRUE(ManifestDir::Open(tmp.str() + "/empty").ok());
  EXPECT_EQ(Listing(tmp.path()), (std::set<std::string>{"empty", "file", "mine"}));
}

TEST(ManifestDir, AnUnwritablePlaceFailsAtOpenAndLeavesNothing) {
  TempDir tmp;
  tmp.Write("file", "x");
  for (const std::string& out :
       {tmp.str() + "/file/k8s", tmp.str() + "/missing/k8s", std::string("."), std::string("/")}) {
    auto dir = ManifestDir::Open(out);
    EXPECT_FALSE(dir.ok()) << out;
  }
  {
    auto dir = ManifestDir::Open(tmp.str() + "/k8s");
    ASSERT_TRUE(dir.ok());
  }  // dropped before Commit
  EXPECT_EQ(Listing(tmp.path()), (std::set<std::string>{"file"}));
}

}  // namespace
}  // namespace derived::deploy
