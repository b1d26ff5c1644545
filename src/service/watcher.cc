#include "service/watcher.h"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "util/hash.h"
#include "util/strings.h"

namespace fs = std::filesystem;

namespace derived {
namespace {

// Runs a shell command in `dir` and returns its standard output; an error on non-zero exit.
Result<std::string> RunIn(const std::string& dir, const std::string& command) {
  std::string full = fmt::format("cd {} && {} 2>&1", ShellQuote(dir), command);
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return Error("cannot run " + command);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int rc = pclose(pipe);
  if (rc != 0) return Error(fmt::format("`{}` failed: {}", command, Trim(out)));
  return out;
}

bool ProjectFile(const fs::path& p) {
  std::string ext = ToLower(p.extension().string());
  return ext == ".yaml" || ext == ".yml" || ext == ".sql";
}

}  // namespace

ProjectWatcher::ProjectWatcher(std::string root, std::string branch) : root_(std::move(root)), branch_(std::move(branch)) {}

Result<std::string> ProjectWatcher::Fingerprint() const {
  if (!branch_.empty()) {
    auto sha = RunIn(root_, "git rev-parse --verify --quiet " + ShellQuote("refs/heads/" + branch_));
    if (!sha.ok()) return Error(fmt::format("cannot read branch '{}' in {}: {}", branch_, root_, sha.error().message));
    return std::string(Trim(*sha));
  }
  // Path, size and modification time of every file the loader reads. Hidden folders
  // (.derived, .git) hold no project files.
  std::vector<std::string> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    if (it->is_directory() && p.filename().string().starts_with(".")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !ProjectFile(p)) continue;
    auto size = it->file_size(ec);
    auto mtime = it->last_write_time(ec).time_since_epoch().count();
    entries.push_back(fmt::format("{}\t{}\t{}", fs::relative(p, root_).string(), size, mtime));
  }
  if (ec) return Error(fmt::format("cannot list {}: {}", root_, ec.message()));
  std::sort(entries.begin(), entries.end());
  Hasher h;
  for (const auto& e : entries) h.Add(e);
  return h.Hex();
}

Result<std::string> ProjectWatcher::Materialize(const std::string& fingerprint) const {
  if (branch_.empty()) return root_;
  fs::path dir = fs::path(root_) / ".derived" / "checkouts" / fingerprint;
  if (fs::exists(dir / ".complete")) return dir.string();
  fs::path tmp = dir.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Error(fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
  auto out = RunIn(root_, fmt::format("git archive --format=tar {} | tar -x -C {}", ShellQuote(fingerprint),
                                      ShellQuote(tmp.string())));
  if (!out.ok()) return out.error();
  // Marked complete before it takes its name, so a crash never leaves a half checkout
  // under the final name (a leftover incomplete one is replaced).
  FILE* f = fopen((tmp / ".complete").c_str(), "w");
  if (!f) return Error(fmt::format("cannot write in {}", tmp.string()));
  fclose(f);
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  return dir.string();
}

void ProjectWatcher::Prune(const std::string& fingerprint) const {
  if (branch_.empty()) return;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / ".derived" / "checkouts", ec)) {
    if (entry.path().filename() != fingerprint) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace derived
