// tests/postgres/server.sh, the test server's script: it never leaves a server running
// when its files go missing, and never removes a directory it did not make.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing.h"
#include "util/strings.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::string RunScript(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return Trim(out);
}

std::string Script() { return ShellQuote(std::string(DERIVED_SOURCE_DIR) + "/tests/postgres/server.sh"); }

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

// True while the process runs (a zombie, which no init may have reaped yet, does not).
bool Alive(const std::string& pid) {
  if (pid.empty()) return false;
  std::string stat = ReadFile("/proc/" + pid + "/stat");
  size_t end = stat.rfind(") ");
  return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] != 'Z';
}

// A start that finds its state incomplete (the port file gone) stops the server it had
// started before making another; a stop that lost the record of its cluster finds it by
// the cluster's back-reference and its postmaster.pid. Nothing is left running.
TEST(PostgresServerScript, NoServerIsLeftBehindWhenItsFilesGoMissing) {
  TempDir state;
  const std::string s = ShellQuote(state.str());
  ASSERT_EQ(RunScript(Script() + " start " + s), "started");
  const std::string first = ReadFile(state.path() / "cluster");
  const std::string first_pid = ReadFile(std::filesystem::path(first) / "data/postmaster.pid");
  ASSERT_TRUE(Alive(first_pid)) << first;

  std::filesystem::remove(state.path() / "port");
  EXPECT_EQ(RunScript(Script() + " start " + s), "started");
  const std::string second = ReadFile(state.path() / "cluster");
  const std::string second_pid = ReadFile(std::filesystem::path(second) / "data/postmaster.pid");
  EXPECT_NE(second, first);
  EXPECT_FALSE(Alive(first_pid)) << "the first server is still running";
  EXPECT_FALSE(std::filesystem::exists(first));
  EXPECT_TRUE(Alive(second_pid));

  std::filesystem::remove(state.path() / "cluster");
  EXPECT_EQ(RunScript(Script() + " stop " + s), "");
  EXPECT_FALSE(Alive(second_pid)) << "the second server is still running";
  EXPECT_FALSE(std::filesystem::exists(second));
  EXPECT_FALSE(std::filesystem::exists(state.path() / "port"));
}

// The cluster path comes from a file: stop removes it only when it is a directory this
// script made (under /tmp/derived-pg.*), never anything else, and an empty one is nothing.
TEST(PostgresServerScript, StopRemovesOnlyClustersItMade) {
  TempDir state, elsewhere;
  const std::string s = ShellQuote(state.str());
  // Every target lies inside `elsewhere`, so that even a script without the guard could
  // remove nothing but this test's own files (a broken guard once took all of /tmp).
  elsewhere.Write("precious/file", "keep me");
  const std::string inside = (elsewhere.path() / "precious").string();
  const std::string dotted = "/tmp/derived-pg.missing/../" + elsewhere.path().filename().string() + "/precious";
  for (const std::string& target : {inside, inside + "/", dotted}) {
    state.Write("cluster", target + "\n");
    EXPECT_THAT(RunScript(Script() + " stop " + s), HasSubstr("refusing to remove")) << target;
    EXPECT_TRUE(std::filesystem::exists(state.path() / "cluster")) << target;
  }
  EXPECT_EQ(elsewhere.Read("precious/file"), "keep me");
  state.Write("cluster", "\n");
  EXPECT_EQ(RunScript(Script() + " stop " + s), "");
  EXPECT_FALSE(std::filesystem::exists(state.path() / "cluster"));
}

}  // namespace
}  // namespace derived
