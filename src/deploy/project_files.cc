#include "deploy/project_files.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "config/limits.h"
#include "util/files.h"

namespace derived::deploy {

Result<std::vector<std::string>> ProjectFilePaths(const Project& project) {
  std::set<std::string> paths = {"derived.yaml"};
  std::vector<std::string> problems;
  auto add = [&](const std::string& file, const std::string& why) {
    std::filesystem::path p = std::filesystem::path(file).lexically_normal();
    std::string rel = p.generic_string();
    if (p.is_absolute() || rel.empty() || rel == "." || rel == ".." || rel.rfind("../", 0) == 0) {
      problems.push_back(fmt::format("{} ({}) is outside the project", file, why));
      return;
    }
    paths.insert(rel);
  };
  for (const auto& s : project.sources) add(s.file, "source " + s.qualified_name());
  for (const auto& t : project.tables) {
    add(t.file, "table " + t.qualified_name());
    if (!t.sql.file.empty()) add(t.sql.file, "the sql_file of " + t.qualified_name());
  }
  for (const auto& m : project.macros) add(m.file, "a macro file");
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    return Error("cannot deploy files from outside the project directory: " + all +
                 "; move them into the project (a deployed process sees only the project)");
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

Result<std::vector<ProjectFile>> ReadProjectFiles(const Project& project) {
  auto paths = ProjectFilePaths(project);
  if (!paths.ok()) return paths.error();
  std::vector<ProjectFile> out;
  for (const auto& rel : *paths) {
    auto text =
        ReadFileLimited((std::filesystem::path(project.root) / rel).string(), kMaxProjectFileBytes, rel);
    if (!text.ok()) return text.error();
    out.push_back({rel, std::move(*text)});
  }
  return out;
}

}  // namespace derived::deploy
