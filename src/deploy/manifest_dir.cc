#include "deploy/manifest_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace derived::deploy {
namespace fs = std::filesystem;
namespace {

std::string Why() { return std::strerror(errno); }

Status SyncPath(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Error(fmt::format("cannot open {}: {}", path, Why()));
  int rc = fsync(fd);
  std::string why = rc == 0 ? "" : Why();
  close(fd);
  if (rc != 0) return Error(fmt::format("cannot sync {}: {}", path, why));
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Error(fmt::format("cannot write {}: {}", path, Why()));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = Why();
      close(fd);
      return Error(fmt::format("cannot write {}: {}", path, why));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) return Error(fmt::format("cannot write {}: {}", path, Why()));
  return Status::Ok();
}

bool ValidName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

Result<std::unique_ptr<ManifestDir>> ManifestDir::Open(const std::string& dir) {
  fs::path path = fs::path(dir).lexically_normal();
  if (path.filename().empty() && path.has_parent_path()) path = path.parent_path();  // "k8s/" -> "k8s"
  std::string name = path.filename().string();
  if (name.empty() || name == "." || name == ".." || path == path.root_path()) {
    return Error(fmt::format("--out '{}': name a folder of its own, such as ./k8s", dir));
  }
  fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) {
    return Error(fmt::format("--out '{}': {} is not an existing folder", dir, parent.string()));
  }
  auto status = fs::symlink_status(path, ec);
  if (fs::exists(status)) {
    if (fs::is_symlink(status) || !fs::is_directory(status)) {
      return Error(fmt::format("--out '{}' exists and is not a folder", dir));
    }
    bool empty = fs::is_empty(path, ec);
    if (ec) return Error(fmt::format("--out '{}': cannot read it: {}", dir, ec.message()));
    if (!empty && !fs::exists(path / kManifestMarker, ec)) {
      return Error(
          fmt::format("--out '{}' holds files `derived deploy` did not write (it has no {}): name a new or "
                      "empty folder",
                      dir, kManifestMarker));
    }
  }
  std::string pattern = (parent / ("." + name + ".tmp-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Error(fmt::format("--out '{}': cannot create a folder in {}: {}", dir, parent.string(), Why()));
  }
  return std::unique_ptr<ManifestDir>(new ManifestDir(path.string(), pattern));
}

ManifestDir::~ManifestDir() {
  if (staging_.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

Status ManifestDir::Commit(const std::vector<std::pair<std::string, std::string>>& files) {
  if (staging_.empty()) return Error("the manifests were committed already");
  for (const auto& [name, text] : files) {
    if (!ValidName(name) || name == kManifestMarker)
      return Error(fmt::format("bad manifest file name '{}'", name));
    if (auto st = WriteNewFile(staging_ + "/" + name, text); !st.ok()) return st;
  }
  std::string marker =
      "Written by `derived deploy k8s`, which replaces this whole folder when it runs again.\n";
  if (auto st = WriteNewFile(staging_ + "/" + kManifestMarker, marker); !st.ok()) return st;
  if (auto st = SyncPath(staging_, O_RDONLY | O_DIRECTORY); !st.ok()) return st;

  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir_, ec))) {
    // Swap the two folders in one step; the old one is then at the staging name.
    if (renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) return Error(fmt::format("cannot replace {}: {}", dir_, Why()));
      // A file system without the exchange: move the old folder aside first.
      std::string aside = staging_ + ".old";
      if (rename(dir_.c_str(), aside.c_str()) != 0)
        return Error(fmt::format("cannot replace {}: {}", dir_, Why()));
      if (rename(staging_.c_str(), dir_.c_str()) != 0) {
        std::string why = Why();
        (void)rename(aside.c_str(), dir_.c_str());
        return Error(fmt::format("cannot replace {}: {}", dir_, why));
      }
      fs::remove_all(aside, ec);
      staging_.clear();
      return Status::Ok();
    }
    fs::remove_all(staging_, ec);  // the old folder
  } else if (rename(staging_.c_str(), dir_.c_str()) != 0) {
    return Error(fmt::format("cannot create {}: {}", dir_, Why()));
  }
  staging_.clear();
  fs::path parent = fs::path(dir_).has_parent_path() ? fs::path(dir_).parent_path() : fs::path(".");
  return SyncPath(parent.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace derived::deploy
