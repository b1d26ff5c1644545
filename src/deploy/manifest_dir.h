// A folder of generated files replaced as a whole: the new files are written (and synced)
// into a fresh sibling folder, which then takes the folder's place in one rename, so the
// folder holds the old set or the new one, never a mix, and files an earlier run wrote
// that this one does not are gone. A folder Derived did not write is never replaced.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace derived::deploy {

// The file in every folder ManifestDir writes, which marks it as replaceable.
inline constexpr const char* kManifestMarker = ".derived-deploy";

class ManifestDir {
 public:
  // Checks that `dir` may be replaced (it does not exist, is empty, or holds the marker),
  // and creates the sibling folder the files go to: an unwritable place fails here,
  // before anything else is done.
  static Result<std::unique_ptr<ManifestDir>> Open(const std::string& dir);
  ~ManifestDir();  // removes the sibling folder unless committed
  ManifestDir(const ManifestDir&) = delete;
  ManifestDir& operator=(const ManifestDir&) = delete;

  const std::string& dir() const { return dir_; }

  // Writes `files` (name -> contents; plain names, no folders) and puts them in place of
  // the folder. Once only.
  Status Commit(const std::vector<std::pair<std::string, std::string>>& files);

 private:
  ManifestDir(std::string dir, std::string staging) : dir_(std::move(dir)), staging_(std::move(staging)) {}

  std::string dir_;
  std::string staging_;  // empty once committed
};

}  // namespace derived::deploy
