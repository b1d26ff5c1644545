#include "config/loader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "config/limits.h"
#include "util/file_walk.h"
#include "util/files.h"
#include "util/parallel.h"
#include "util/strings.h"

namespace derived {
namespace fs = std::filesystem;
namespace {

struct FoundFile {
  std::string rel;              // project-relative path
  std::string default_dataset;  // first folder under sources/ or tables/
  std::string default_name;     // file name without extension
};

// `rel`: the project-relative path errors name.
Result<std::string> ReadFile(const fs::path& root, const std::string& rel) {
  return ReadFileLimited((root / rel).string(), kMaxProjectFileBytes, rel);
}

// Every file under root/sub with one of `exts`, in a stable order. Symlinked folders are
// followed; a loop, a broken link or an unreadable folder is an error naming its path.
std::vector<FoundFile> FindFiles(const fs::path& root, const std::string& sub, const std::vector<std::string>& exts,
                                 Diagnostics* diags) {
  WalkOptions options;
  options.follow_directory_symlinks = true;
  options.shown_relative_to = root;
  options.wanted = [&](const fs::path& p) {
    return std::find(exts.begin(), exts.end(), p.extension().string()) != exts.end();
  };
  WalkResult walk = WalkFiles(root / sub, options);
  // Lexical: fs::relative resolves symlinks with a readlink per path component.
  auto rel_of = [&](const fs::path& p) { return p.lexically_relative(root); };
  for (const WalkProblem& p : walk.problems) diags->AddError({rel_of(p.path).generic_string(), 0, 0}, p.message);
  std::vector<FoundFile> out;
  for (const WalkedFile& file : walk.files) {
    fs::path rel = rel_of(file.path);
    FoundFile f;
    f.rel = rel.generic_string();
    auto parts = std::vector<fs::path>(rel.begin(), rel.end());
    f.default_dataset = parts.size() >= 3 ? parts[1].string() : "";
    f.default_name = file.path.stem().string();
    out.push_back(std::move(f));
  }
  return out;
}

// Reports two definitions of one qualified name (tables and sources share one namespace).
void CheckDuplicates(const Project& p, Diagnostics* diags) {
  std::map<std::string, std::string> owner;  // qualified name -> file
  auto check = [&](const std::string& name, const std::string& file) {
    auto [it, inserted] = owner.emplace(name, file);
    if (!inserted) {
      diags->AddError({file, 1, 1}, fmt::format("'{}' is defined twice: here and in {}", name, it->second));
    }
  };
  for (const auto& s : p.sources) check(s.qualified_name(), s.file);
  for (const auto& t : p.tables) check(t.qualified_name(), t.file);
}

template <typename T>
void SortByName(std::vector<T>* items) {
  std::stable_sort(items->begin(), items->end(),
                   [](const T& a, const T& b) { return a.qualified_name() < b.qualified_name(); });
}

// Only DuckDB reads files in place. On PostgreSQL a file source is refused rather than
// copied: loading files is an ingestion job, and a COPY here would hide its cost and its
// failures inside every run.
void CheckFileSources(const Project& project, Diagnostics* diags) {
  if (project.warehouse.engine == WarehouseEngine::kDuckDb) return;
  for (const auto& s : project.sources) {
    if (s.location.empty()) continue;
    diags->AddError(s.LocationOf("location"),
                    fmt::format("source {} reads files ('location'), which only a DuckDB warehouse can do: on "
                                "PostgreSQL, load the files into a table (with COPY, say) and declare that table as "
                                "the source, without 'location'",
                                s.qualified_name()));
  }
}

// PostgreSQL partitions a table by ranges of its time column (warehouse/postgres/), so
// partition_by there is that column, on a table that has one. DuckDB keeps the setting
// without partitions.
void CheckPartitions(const Project& project, Diagnostics* diags) {
  if (project.warehouse.engine != WarehouseEngine::kPostgres) return;
  for (const auto& t : project.tables) {
    if (t.partition_by.empty()) continue;
    const bool timed = (t.strategy == Strategy::kAppend || t.strategy == Strategy::kMerge) && !t.time_column.empty();
    if (!timed) {
      diags->AddError(t.LocationOf("partition_by"),
                      fmt::format("{}: partition_by partitions by the time column, which only append and merge "
                                  "tables have: leave it out",
                                  t.qualified_name()));
    } else if (t.partition_by.size() != 1 || t.partition_by[0] != t.time_column) {
      diags->AddError(t.LocationOf("partition_by"),
                      fmt::format("{}: on PostgreSQL, partition_by is a range partitioning on the time column: "
                                  "write partition_by: [{}]",
                                  t.qualified_name(), t.time_column));
    }
  }
}

// DuckDB names a database file's catalog after the file; a dataset of the same name
// makes every `dataset.table` ambiguous ("raw.events": catalog raw or schema raw?).
void CheckWarehouseName(const Project& project, Diagnostics* diags) {
  if (project.warehouse.engine != WarehouseEngine::kDuckDb) return;
  std::string catalog = ToLower(fs::path(project.warehouse.path).stem().string());
  std::set<std::string> datasets;
  for (const auto& s : project.sources) datasets.insert(s.dataset);
  for (const auto& t : project.tables) datasets.insert(t.dataset);
  if (!datasets.count(catalog)) return;
  diags->AddError({"derived.yaml", 1, 1},
                  fmt::format("the warehouse file '{}' has the same name as the dataset '{}', which makes "
                              "'{}.<table>' ambiguous in DuckDB: rename the file",
                              project.warehouse.path, catalog, catalog));
}

// Schemas named shadow__... hold shadow environments (shadow/environment.h), which
// `derived shadow drop` removes: no dataset may be one.
void CheckReservedDatasets(const Project& project, Diagnostics* diags) {
  auto check = [&](const std::string& dataset, const std::string& file) {
    if (dataset.rfind("shadow__", 0) == 0) {
      diags->AddError({file, 1, 1}, fmt::format("the dataset name '{}' is reserved: names beginning with 'shadow__' "
                                                "hold shadow environments",
                                                dataset));
    }
  };
  for (const auto& s : project.sources) check(s.dataset, s.file);
  for (const auto& t : project.tables) check(t.dataset, t.file);
}

}  // namespace

// The names a file that did not load may define: the folder layout's, and those its
// top-level `dataset:` / `name:` lines give when they are plain identifiers. Read line by
// line, since the YAML itself may not parse.
namespace {

BrokenFile BrokenFileOf(const FoundFile& f, bool source, const fs::path& root) {
  BrokenFile b{f.rel, {ToLower(f.default_dataset + "." + f.default_name)}, source};
  auto text = ReadFile(root, f.rel);
  if (!text.ok()) return b;
  std::string dataset = f.default_dataset, name = f.default_name;
  static const std::regex kKey(R"(^(dataset|name):[ \t]*["']?([A-Za-z_][A-Za-z0-9_]*)["']?[ \t]*(#.*)?\r?$)");
  std::istringstream in(*text);
  std::string line;
  for (int n = 0; n < 10000 && std::getline(in, line); ++n) {
    std::smatch m;
    if (!std::regex_match(line, m, kKey)) continue;
    (m[1] == "dataset" ? dataset : name) = m[2];
  }
  std::string declared = ToLower(dataset + "." + name);
  if (declared != b.names[0]) b.names.push_back(declared);
  return b;
}

}  // namespace

Result<Project> LoadProject(const std::string& dir, Diagnostics* diags, const LoadOptions& options) {
  std::error_code ec;
  fs::path root = fs::absolute(dir, ec);
  if (ec || !fs::is_directory(root, ec)) return Error(fmt::format("project directory '{}' does not exist", dir));
  root = root.lexically_normal();
  fs::path project_file = root / "derived.yaml";
  if (!fs::exists(project_file, ec)) {
    return Error(fmt::format("no derived.yaml in '{}': is --project pointing at a Derived project?", dir));
  }
  Project project;
  project.root = root.string();
  if (!project.root.empty() && project.root.back() == '/' && project.root.size() > 1) project.root.pop_back();
  auto text = ReadFile(root, "derived.yaml");
  if (!text.ok()) return text.error();
  Diagnostics project_diags;
  if (auto st = ParseProjectFile("derived.yaml", *text, &project, &project_diags); !st.ok()) {
    // Nothing else can be read without the project file: report its problems as the error.
    std::string msg;
    for (const auto& d : project_diags.all()) msg += (msg.empty() ? "" : "\n") + d.ToString();
    return Error(msg.empty() ? "derived.yaml has errors" : msg);
  }
  diags->Merge(std::move(project_diags));
  if (options.project_file_only) return project;

  std::vector<FoundFile> source_files = FindFiles(root, "sources", {".yaml", ".yml"}, diags);
  std::vector<FoundFile> table_files = FindFiles(root, "tables", {".yaml", ".yml"}, diags);
  std::vector<FoundFile> macro_files = FindFiles(root, "macros", {".sql"}, diags);

  // Each file is read and parsed independently; results land in per-file slots.
  size_t total = source_files.size() + table_files.size();
  std::vector<std::optional<SourceDef>> sources(source_files.size());
  std::vector<std::optional<TableDef>> tables(table_files.size());
  std::vector<Diagnostics> file_diags(total);
  ParallelFor(total, options.threads, [&](int, size_t i) {
    bool is_source = i < source_files.size();
    const FoundFile& f = is_source ? source_files[i] : table_files[i - source_files.size()];
    auto content = ReadFile(root, f.rel);
    if (!content.ok()) {
      file_diags[i].AddError({f.rel, 0, 0}, content.error().message);
      return;
    }
    if (is_source) {
      sources[i] = ParseSourceFile(f.rel, *content, f.default_dataset, f.default_name, &file_diags[i]);
    } else {
      tables[i - source_files.size()] =
          ParseTableFile(f.rel, *content, f.default_dataset, f.default_name, project, &file_diags[i]);
    }
  });
  for (auto& d : file_diags) diags->Merge(std::move(d));
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i]) {
      project.sources.push_back(std::move(*sources[i]));
    } else {
      project.broken.push_back(BrokenFileOf(source_files[i], true, root));
    }
  }
  for (size_t i = 0; i < tables.size(); ++i) {
    if (tables[i]) {
      project.tables.push_back(std::move(*tables[i]));
    } else {
      project.broken.push_back(BrokenFileOf(table_files[i], false, root));
    }
  }
  for (const auto& m : macro_files) {
    auto content = ReadFile(root, m.rel);
    if (!content.ok()) {
      diags->AddError({m.rel, 0, 0}, content.error().message);
      continue;
    }
    project.macros.push_back({m.rel, std::move(*content)});
  }
  SortByName(&project.sources);
  SortByName(&project.tables);
  CheckDuplicates(project, diags);
  CheckWarehouseName(project, diags);
  CheckReservedDatasets(project, diags);
  CheckFileSources(project, diags);
  CheckPartitions(project, diags);
  return project;
}

}  // namespace derived
