#include "engine/file_changes.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "engine/plan.h"
#include "util/hash.h"

namespace derived {
namespace {

constexpr int64_t kDay = 86400;

std::optional<Window> Union(std::optional<Window> a, std::optional<Window> b) {
  if (!a) return b;
  if (!b) return a;
  return Window{std::min(a->start, b->start), std::max(a->end, b->end)};
}

// The days of `days` for which `pred` holds, as one range; sets *untimed for kNoDay.
template <typename Pred>
std::optional<Window> DaysWhere(const std::map<int64_t, std::string>& days, Pred pred, bool* untimed) {
  std::optional<Window> out;
  for (const auto& [day, digest] : days) {
    if (!pred(day, digest)) continue;
    if (day == kNoDay) {
      *untimed = true;
    } else {
      out = Union(out, Window{Timestamp{day}, Timestamp{day + kDay}});
    }
  }
  return out;
}

}  // namespace

std::string_view FileChangeName(FileChange c) {
  switch (c) {
    case FileChange::kAdded: return "added";
    case FileChange::kChanged: return "changed";
    case FileChange::kRemoved: return "removed";
  }
  return "?";
}

Result<FileFingerprint> StatFile(const std::string& path, bool hash) {
  namespace fs = std::filesystem;
  using std::chrono::nanoseconds;
  std::error_code ec;
  FileFingerprint f;
  f.path = path;
  f.size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return Error(fmt::format("cannot read {}: {}", path, ec.message()));
  f.mtime_ns = std::chrono::duration_cast<nanoseconds>(fs::last_write_time(path, ec).time_since_epoch()).count();
  if (ec) return Error(fmt::format("cannot read {}: {}", path, ec.message()));
  f.seen_ns = std::chrono::duration_cast<nanoseconds>(fs::file_time_type::clock::now().time_since_epoch()).count();
  if (f.size > kFileHashLimit && !hash && !f.racy()) return f;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("cannot read {}", path));
  Hasher h;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) h.Add(std::string_view(buf, static_cast<size_t>(in.gcount())));
  f.hash = h.Hex();
  return f;
}

bool SameFile(const FileFingerprint& before, const FileFingerprint& now) {
  if (before.size != now.size) return false;
  if (!before.hash.empty() && !now.hash.empty()) return before.hash == now.hash;
  return before.mtime_ns == now.mtime_ns && !before.racy();
}

std::vector<FileDiff> DiffFiles(const std::vector<FileFingerprint>& recorded,
                                const std::vector<FileFingerprint>& current) {
  std::map<std::string, const FileFingerprint*> before, now;
  for (const auto& f : recorded) before[f.path] = &f;
  for (const auto& f : current) now[f.path] = &f;
  auto all = [](int64_t, const std::string&) { return true; };
  std::vector<FileDiff> out;
  for (const auto& [path, f] : now) {
    auto it = before.find(path);
    FileDiff d;
    d.path = path;
    if (it == before.end()) {
      d.change = FileChange::kAdded;
      d.range = DaysWhere(f->days, all, &d.untimed);
    } else if (!SameFile(*it->second, *f)) {
      const auto& old_days = it->second->days;
      const auto& new_days = f->days;
      d.change = FileChange::kChanged;
      auto differs = [](const std::map<int64_t, std::string>& other) {
        return [&other](int64_t day, const std::string& digest) {
          auto o = other.find(day);
          return o == other.end() || o->second != digest;
        };
      };
      d.range = Union(DaysWhere(new_days, differs(old_days), &d.untimed),
                      DaysWhere(old_days, differs(new_days), &d.untimed));
    } else {
      continue;
    }
    out.push_back(std::move(d));
  }
  for (const auto& [path, f] : before) {
    if (now.count(path)) continue;
    FileDiff d;
    d.path = path;
    d.change = FileChange::kRemoved;
    d.range = DaysWhere(f->days, all, &d.untimed);
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<Window> RestatedRange(const std::vector<FileDiff>& diffs, bool has_time_column,
                                    std::optional<Timestamp> complete) {
  std::optional<Window> out;
  if (!complete) return out;
  for (const auto& d : diffs) {
    // Without a time, a row may be anywhere in what any reader read.
    if (!has_time_column || d.untimed) return kAllTime;
    // Days whose data lies after the source's completeness change only what no reader
    // has taken as final yet.
    if (!d.range || !(d.range->start < *complete)) continue;
    out = Union(out, d.range);
  }
  return out;
}

}  // namespace derived
