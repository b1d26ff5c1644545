#include "service/watcher.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "util/file_walk.h"
#include "util/files.h"
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
  // (.derived, .git) hold no project files. Never throws: an entry that cannot be read (a
  // symlink loop, a folder without permission) is part of the fingerprint, so its coming
  // and going triggers a reload, which reports it.
  WalkOptions options;
  options.skip_hidden_directories = true;
  options.wanted = ProjectFile;
  WalkResult walk = WalkFiles(root_, options);
  Hasher h;
  for (const WalkedFile& f : walk.files) {
    h.Add(fmt::format("{}\t{}\t{}", f.path.lexically_relative(root_).generic_string(), f.size, f.mtime_ns));
  }
  for (const WalkProblem& p : walk.problems) h.Add(fmt::format("!{}\t{}", p.path.generic_string(), p.message));
  return h.Hex();
}

namespace {

// `tree` (a commit, or commit:folder) of the repository at `root`, extracted to
// <root>/.derived/checkouts/<name>, once.
Result<std::string> Extract(const std::string& root, const std::string& tree, const std::string& name) {
  fs::path dir = fs::path(root) / ".derived" / "checkouts" / name;
  std::error_code exists_ec;
  if (fs::exists(dir / ".complete", exists_ec)) return dir.string();
  fs::path tmp = dir.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (auto st = CreatePrivateDirectories(tmp.string()); !st.ok()) return st.error();
  auto out = RunIn(root, fmt::format("git archive --format=tar {} | tar -x -C {}", ShellQuote(tree),
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

}  // namespace

Result<std::string> ProjectWatcher::Materialize(const std::string& fingerprint) const {
  if (branch_.empty()) return root_;
  return Extract(root_, fingerprint, fingerprint);
}

Result<std::string> CheckOutCommit(const std::string& root, const std::string& ref) {
  if (ref.empty() || ref[0] == '-') return Error(fmt::format("'{}' is not a git revision", ref));
  auto sha = RunIn(root, "git rev-parse --verify --quiet " + ShellQuote(ref + "^{commit}"));
  if (!sha.ok()) return Error(fmt::format("'{}' is not a commit of the git repository at {}", ref, root));
  auto prefix = RunIn(root, "git rev-parse --show-prefix");
  if (!prefix.ok()) return prefix.error();
  std::string commit(Trim(*sha)), folder(Trim(*prefix));
  // The project's folder of the commit alone, named apart from whole-commit checkouts.
  std::string tree = folder.empty() ? commit : commit + ":" + folder;
  return Extract(root, tree, folder.empty() ? commit : commit + "-" + Hasher().Add(folder).Hex().substr(0, 12));
}

bool ProjectWatcher::IsAncestor(const std::string& older, const std::string& newer) const {
  if (branch_.empty() || older.empty() || newer.empty()) return false;
  return RunIn(root_, fmt::format("git merge-base --is-ancestor {} {}", ShellQuote(older), ShellQuote(newer))).ok();
}

void ProjectWatcher::Prune(const std::string& fingerprint) const {
  if (branch_.empty()) return;
  std::error_code ec;
  // increment(ec), not a range-for: its operator++ throws when the listing fails midway.
  for (fs::directory_iterator it(fs::path(root_) / ".derived" / "checkouts", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code ignored;  // a checkout that cannot be removed now is retried next time
    if (it->path().filename() != fingerprint) fs::remove_all(it->path(), ignored);
  }
}

}  // namespace derived
