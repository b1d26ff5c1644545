// Notices when the project changed: in the working tree (any project file added, removed
// or modified) or, when following a git branch, a new commit on it.
#pragma once

#include <string>

#include "util/status.h"

namespace derived {

class ProjectWatcher {
 public:
  // `branch` empty: watch the working tree under `root`. Otherwise watch the branch and
  // check each new commit out under <root>/.derived/checkouts/<commit> for loading.
  ProjectWatcher(std::string root, std::string branch);

  // A fingerprint of the current version: changes when the project does.
  Result<std::string> Fingerprint() const;
  // The directory to load the version with that fingerprint from.
  Result<std::string> Materialize(const std::string& fingerprint) const;
  // Deletes every checkout but the one of `fingerprint` (the version in use).
  void Prune(const std::string& fingerprint) const;
  // Following a branch: whether commit `older` is an ancestor of (or is) `newer`. False
  // when either is unknown here (not fetched yet).
  bool IsAncestor(const std::string& older, const std::string& newer) const;

 private:
  std::string root_, branch_;
};

// Checks commit `ref` (a branch, tag or sha) of the git repository holding `root` out
// under <root>/.derived/checkouts/<sha>, and returns the project's directory in it (the
// same folder of the repository `root` is). An error naming `ref` when it is no commit.
Result<std::string> CheckOutCommit(const std::string& root, const std::string& ref);

}  // namespace derived
