#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace derived {
namespace {

// Closes the descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting whether close succeeded (a write error may only show here).
  bool Close() {
    int fd = fd_;
    fd_ = -1;
    return close(fd) == 0;
  }

 private:
  int fd_;
};

std::string Why() { return std::strerror(errno); }

std::string Size(size_t bytes) {
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

Result<std::string> ReadFileLimited(const std::string& path, size_t max_bytes, std::string_view shown_as) {
  const std::string name(shown_as.empty() ? std::string_view(path) : shown_as);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return Error("cannot read " + name + ": " + Why());
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Error("cannot read " + name + ": " + Why());
  if (!S_ISREG(st.st_mode)) return Error("cannot read " + name + ": not a regular file");
  auto too_large = [&] { return Error(name + " is larger than " + Size(max_bytes) + ", the most Derived reads"); };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  std::string out;
  out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() > max_bytes) return too_large();  // it grew while being read
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    ssize_t n = read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error("cannot read " + name + ": " + Why());
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) return too_large();
  out.resize(used);
  return out;
}

Status CreatePrivateDirectories(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path path = fs::path(dir).lexically_normal();
  fs::path partial;
  for (const fs::path& part : path) {
    partial /= part;
    if (part.empty() || part == "/") continue;
    if (mkdir(partial.c_str(), 0700) == 0 || errno == EEXIST) {
      std::error_code ec;
      if (fs::is_directory(partial, ec)) continue;
      return Error("cannot create the folder " + partial.string() + ": a file of that name is in the way");
    }
    return Error("cannot create the folder " + partial.string() + ": " + Why());
  }
  return Status::Ok();
}

Status WritePrivateFile(const std::string& path, std::string_view text) {
  std::string tmp = path + ".tmp";
  // A fresh file, never one left behind (which keeps its mode) or a symlink planted there.
  unlink(tmp.c_str());
  Fd fd(open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Error("cannot write " + tmp + ": " + Why());
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = Why();
      unlink(tmp.c_str());
      return Error("cannot write " + tmp + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (!fd.Close()) {
    std::string why = Why();
    unlink(tmp.c_str());
    return Error("cannot write " + tmp + ": " + why);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = Why();
    unlink(tmp.c_str());
    return Error("cannot replace " + path + ": " + why);
  }
  return Status::Ok();
}

}  // namespace derived
