#include "warehouse/duckdb/file_access.h"

#include <algorithm>
#include <filesystem>

namespace derived {
namespace {

// Absolute (DuckDB compares the paths a query names with these as text).
std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return (ec ? std::filesystem::path(path) : p).lexically_normal().string();
}

void AddOnce(std::vector<std::string>* to, std::string path) {
  if (std::find(to->begin(), to->end(), path) == to->end()) to->push_back(std::move(path));
}

}  // namespace

std::string SourceGlob(const std::string& root, const SourceDef& s) {
  std::filesystem::path path(s.location);
  if (path.is_relative()) path = std::filesystem::path(root) / path;
  return path.lexically_normal().string();
}

db::FileAccess ProjectFileAccess(const Project& project) {
  db::FileAccess access;
  AddOnce(&access.directories, Absolute(project.root));
  for (const auto& s : project.sources) {
    if (s.location.empty()) continue;
    std::string glob = Absolute(SourceGlob(project.root, s));
    size_t wild = glob.find_first_of("*?[{");
    if (wild == std::string::npos) {
      AddOnce(&access.paths, glob);
      continue;
    }
    size_t slash = glob.rfind('/', wild);
    AddOnce(&access.directories, slash == std::string::npos || slash == 0 ? "/" : glob.substr(0, slash));
  }
  return access;
}

}  // namespace derived
