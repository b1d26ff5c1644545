#include "engine/file_changes.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "engine/plan.h"

namespace derived {
namespace {

Timestamp T(const char* s) { return *ParseTimestamp(s); }
int64_t Day(const char* s) { return T(s).seconds; }

// Looked at long after it was written, unless `seen` says otherwise.
FileFingerprint File(const std::string& path, int64_t size, int64_t mtime, const std::string& hash,
                     std::map<int64_t, std::string> days, int64_t seen = int64_t{1} << 50) {
  return {path, size, mtime, seen, hash, std::move(days)};
}

TEST(DiffFiles, ByPathSizeMtimeContentAndTheDaysThatDiffer) {
  std::map<int64_t, std::string> jan1 = {{Day("2024-01-01"), "3:a"}}, jan2 = {{Day("2024-01-02"), "3:b"}};
  // A file appended with a day, and one with a day corrected.
  std::map<int64_t, std::string> appended = {{Day("2024-01-01"), "3:a"}, {Day("2024-01-02"), "2:x"}};
  std::map<int64_t, std::string> corrected = {{Day("2024-01-01"), "3:z"}, {Day("2024-01-02"), "3:b"}};
  std::vector<FileFingerprint> before = {File("/a.csv", 10, 1, "h1", jan1), File("/b.csv", 10, 1, "h2", jan1),
                                         File("/c.csv", 10, 1, "", jan2), File("/e.csv", 10, 1, "h5", corrected)};
  std::vector<FileFingerprint> now = {File("/a.csv", 10, 2, "h1", jan1), File("/b.csv", 12, 2, "h3", appended),
                                      File("/d.csv", 5, 1, "h4", jan2),
                                      File("/e.csv", 10, 2, "h6", {{Day("2024-01-01"), "3:y"}, {Day("2024-01-02"), "3:b"}})};
  auto diffs = DiffFiles(before, now);
  ASSERT_EQ(diffs.size(), 4u);
  EXPECT_EQ(diffs[0].path, "/b.csv");  // touched /a.csv with the same content is no change
  EXPECT_EQ(diffs[0].change, FileChange::kChanged);
  EXPECT_EQ(*diffs[0].range, (Window{T("2024-01-02"), T("2024-01-03")}));  // only the day appended
  EXPECT_EQ(diffs[1].path, "/d.csv");
  EXPECT_EQ(diffs[1].change, FileChange::kAdded);
  EXPECT_EQ(diffs[2].path, "/e.csv");
  EXPECT_EQ(*diffs[2].range, (Window{T("2024-01-01"), T("2024-01-02")}));  // only the day corrected
  EXPECT_EQ(diffs[3].path, "/c.csv");
  EXPECT_EQ(diffs[3].change, FileChange::kRemoved);
  EXPECT_EQ(*diffs[3].range, (Window{T("2024-01-02"), T("2024-01-03")}));
  // A large file (no hash) with a new mtime is a change, whatever its content.
  EXPECT_FALSE(SameFile(File("/c.csv", 10, 1, "", jan2), File("/c.csv", 10, 3, "", jan2)));
  EXPECT_TRUE(DiffFiles(before, before).empty());
  // Rows without a time that change are flagged.
  auto untimed = DiffFiles({File("/u", 1, 1, "h", {{kNoDay, "1:a"}})}, {File("/u", 1, 2, "i", {{kNoDay, "1:b"}})});
  ASSERT_EQ(untimed.size(), 1u);
  EXPECT_TRUE(untimed[0].untimed);
  EXPECT_FALSE(untimed[0].range);
  // Written just before it was looked at: the same size and mtime prove nothing, the
  // content decides.
  FileFingerprint racy = File("/r.csv", 10, 100, "h1", jan1, 100 + kRacyNs / 2);
  EXPECT_TRUE(racy.racy());
  EXPECT_FALSE(SameFile(racy, File("/r.csv", 10, 100, "h2", jan1)));
  EXPECT_TRUE(SameFile(racy, File("/r.csv", 10, 100, "h1", jan1)));
  EXPECT_FALSE(SameFile(File("/r.csv", 10, 100, "", jan1, 100), File("/r.csv", 10, 100, "", jan1)));
}

TEST(RestatedRange, OnlyWhatReadersTookAsComplete) {
  Window old_day{T("2024-01-01"), T("2024-01-02")}, new_day{T("2024-01-05"), T("2024-01-06")};
  std::vector<FileDiff> late = {{"/x", FileChange::kAdded, old_day}};
  std::vector<FileDiff> next = {{"/y", FileChange::kAdded, new_day}};
  EXPECT_EQ(RestatedRange(late, true, T("2024-01-03")), old_day);  // landed in the past
  EXPECT_FALSE(RestatedRange(next, true, T("2024-01-03")));       // new data
  EXPECT_FALSE(RestatedRange(late, true, std::nullopt));           // nothing complete yet
  EXPECT_EQ(RestatedRange(next, false, T("2024-01-03")), kAllTime);  // no time column: everything
  EXPECT_FALSE(RestatedRange(next, false, std::nullopt));              // ... once anyone read it
  std::vector<FileDiff> both = {late[0], {"/z", FileChange::kRemoved, new_day}};
  EXPECT_EQ(RestatedRange(both, true, kEndOfTime), (Window{T("2024-01-01"), T("2024-01-06")}));
  std::vector<FileDiff> empty_file = {{"/e", FileChange::kAdded, std::nullopt}};
  EXPECT_FALSE(RestatedRange(empty_file, true, kEndOfTime));
  std::vector<FileDiff> untimed = {{"/u", FileChange::kChanged, std::nullopt, true}};
  EXPECT_EQ(RestatedRange(untimed, true, T("2024-01-03")), kAllTime);
}

TEST(StatFile, HashesSmallAndRacyFiles) {
  std::string path = ::testing::TempDir() + "/derived_stat_file_test.csv";
  { std::ofstream(path) << "a,b\n1,2\n"; }
  auto f = StatFile(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->size, 8);
  EXPECT_TRUE(f->racy());  // just written
  EXPECT_FALSE(f->hash.empty());
  { std::ofstream(path) << "a,b\n1,3\n"; }  // same size, likely the same mtime tick
  auto g = StatFile(path, true);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(SameFile(*f, *g));
  EXPECT_FALSE(StatFile(path + ".missing").ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace derived
