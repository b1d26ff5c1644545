#include "util/file_walk.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace derived {
namespace fs = std::filesystem;
namespace {

// Deeper than any project's folders, shallow enough that paths stay far below PATH_MAX.
constexpr size_t kMaxDepth = 64;

struct FolderId {
  dev_t dev;
  ino_t ino;
  fs::path path;
};

class Walker {
 public:
  Walker(const fs::path& root, const WalkOptions& options)
      : shown_base_(options.shown_relative_to.empty() ? root : options.shown_relative_to), options_(options) {}

  void Folder(const fs::path& dir, std::vector<FolderId>* inside) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) return Problem(dir, "cannot read the folder: " + ec.message());
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      Entry(*it, inside);
    }
    if (ec) Problem(dir, "cannot read the folder: " + ec.message());
  }

  WalkResult Take() {
    std::sort(result_.files.begin(), result_.files.end(),
              [](const WalkedFile& a, const WalkedFile& b) { return a.path < b.path; });
    return std::move(result_);
  }

 private:
  void Problem(const fs::path& path, std::string message) { result_.problems.push_back({path, std::move(message)}); }

  std::string Shown(const fs::path& path) const {
    fs::path rel = path.lexically_relative(shown_base_);
    return rel.empty() ? path.generic_string() : rel.generic_string();
  }

  bool Wanted(const fs::path& path) const { return !options_.wanted || options_.wanted(path); }

  void Entry(const fs::directory_entry& entry, std::vector<FolderId>* inside) {
    const fs::path& path = entry.path();
    struct stat link;
    if (lstat(path.c_str(), &link) != 0) {
      if (errno != ENOENT) Problem(path, std::string("cannot read it: ") + std::strerror(errno));
      return;  // ENOENT: deleted since the folder was listed
    }
    bool is_link = S_ISLNK(link.st_mode);
    struct stat st = link;
    if (is_link && stat(path.c_str(), &st) != 0) {
      int err = errno;
      // A link looping on itself may be a folder or a file: report it either way.
      if (err == ELOOP) return Problem(path, "symlink loop: too many levels of symbolic links");
      if (Wanted(path)) Problem(path, std::string("broken symlink: ") + std::strerror(err));
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (is_link && !options_.follow_directory_symlinks) return;
      if (options_.skip_hidden_directories && path.filename().string().starts_with(".")) return;
      for (const FolderId& f : *inside) {
        if (f.dev == st.st_dev && f.ino == st.st_ino) {
          return Problem(path, "symlink loop: it leads back to " + Shown(f.path) + ", a folder that holds it");
        }
      }
      if (inside->size() >= kMaxDepth) {
        return Problem(path, "folders nested more than " + std::to_string(kMaxDepth) + " deep");
      }
      inside->push_back({st.st_dev, st.st_ino, path});
      Folder(path, inside);
      inside->pop_back();
      return;
    }
    if (!S_ISREG(st.st_mode) || !Wanted(path)) return;
    int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    result_.files.push_back({path, static_cast<uintmax_t>(st.st_size), mtime});
  }

  fs::path shown_base_;
  const WalkOptions& options_;
  WalkResult result_;
};

}  // namespace

WalkResult WalkFiles(const fs::path& root, const WalkOptions& options) {
  Walker walker(root, options);
  struct stat st;
  if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return walker.Take();
  std::vector<FolderId> inside = {{st.st_dev, st.st_ino, root}};
  walker.Folder(root, &inside);
  return walker.Take();
}

}  // namespace derived
