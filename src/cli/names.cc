#include "cli/names.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "compile/compiler.h"
#include "config/loader.h"
#include "metadata/store.h"
#include "service/service.h"
#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived::cli {
namespace {

// "core.orders" -> "orders"; names without a dataset ("_project") are their own bare name.
std::string_view Bare(std::string_view qualified) {
  size_t dot = qualified.rfind('.');
  return dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
}

std::vector<std::string> Union(std::initializer_list<const std::vector<std::string>*> lists) {
  std::set<std::string> all;
  for (const auto* l : lists) all.insert(l->begin(), l->end());
  return {all.begin(), all.end()};
}

// The one name in `names` that `name` means, qualified or bare; "" for none; every match
// in *matches.
std::string Match(const std::string& name, const std::vector<std::string>& names, std::vector<std::string>* matches) {
  matches->clear();
  for (const auto& n : names) {
    if (n == name) {
      *matches = {n};
      return n;
    }
  }
  if (name.find('.') == std::string::npos) {
    for (const auto& n : names) {
      if (Bare(n) == name) matches->push_back(n);
    }
  }
  return matches->size() == 1 ? matches->front() : "";
}

// A typo's closest candidate, by its qualified name or (for a bare input) its bare name.
std::string Suggestion(const std::string& name, const std::vector<std::string>& names) {
  std::string best = ClosestMatch(name, names);
  if (!best.empty() || name.find('.') != std::string::npos) return best;
  std::vector<std::string> bare;
  for (const auto& n : names) bare.emplace_back(Bare(n));
  std::string closest = ClosestMatch(name, bare);
  if (closest.empty()) return "";
  std::vector<std::string> matches;
  Match(closest, names, &matches);
  return Join(matches, "' or '");
}

// A qualified name whose file is where the project's layout puts it, and does not rename
// itself with a top-level name: or dataset: key, is that name: known without reading the
// project's other files (thousands, for a large project). Anything else goes the long way.
bool AtItsPlace(const std::string& root, const char* folder, const std::string& qualified) {
  size_t dot = qualified.find('.');
  if (dot == std::string::npos || qualified.find('.', dot + 1) != std::string::npos) return false;
  namespace fs = std::filesystem;
  for (const char* ext : {".yaml", ".yml"}) {
    fs::path file = fs::path(root) / folder / qualified.substr(0, dot) / (qualified.substr(dot + 1) + ext);
    std::ifstream in(file);
    if (!in) continue;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("name") || line.starts_with("dataset") || line.starts_with("{")) return false;
    }
    return true;
  }
  return false;
}

}  // namespace

Result<std::string> ResolveName(std::string_view input, NameScope scope, const NameCatalog& c) {
  std::string name = ToLower(Trim(input));
  std::vector<std::string> names, others;  // others: of the other kind, for a hint
  const char* what = "table";
  switch (scope) {
    case NameScope::kTable:
      names = Union({&c.tables, &c.broken});
      others = c.sources;
      break;
    case NameScope::kSource:
      names = Union({&c.sources, &c.broken});
      others = c.tables;
      what = "source";
      break;
    case NameScope::kBuiltTable:
      names = Union({&c.built, &c.tables});
      others = c.sources;
      break;
    case NameScope::kLogged:
      names = Union({&c.tables, &c.sources, &c.built, &c.logged});
      what = "table or source";
      break;
  }
  if (name.empty()) return Error(fmt::format("give a {} name: dataset.name, or a name only one {} has", what, what));
  std::vector<std::string> matches;
  if (std::string found = Match(name, names, &matches); !found.empty()) return found;
  if (matches.size() > 1) {
    return Error(fmt::format("'{}' is ambiguous: it names {}; write the dataset too", std::string(input),
                             Join(matches, ", ")));
  }
  std::string hint;
  std::vector<std::string> other;
  if (std::string found = Match(name, others, &other); !found.empty()) {
    hint = fmt::format(" ('{}' is a {}, not a {})", found, scope == NameScope::kSource ? "derived table" : "source",
                       scope == NameScope::kSource ? "source" : "derived table");
  } else if (std::string best = Suggestion(name, names); !best.empty()) {
    hint = " (did you mean '" + best + "'?)";
  }
  return Error(fmt::format("unknown {} '{}'{}", what, std::string(input), hint));
}

NameCatalog ProjectNames(const Project& project) {
  NameCatalog c;
  for (const auto& t : project.tables) c.tables.push_back(t.qualified_name());
  for (const auto& s : project.sources) c.sources.push_back(s.qualified_name());
  for (const auto& b : project.broken) c.broken.insert(c.broken.end(), b.names.begin(), b.names.end());
  return c;
}

std::optional<std::string> ResolveByLayout(const CommonOptions& opts, std::string_view input, NameScope scope) {
  if (opts.service || scope == NameScope::kBuiltTable || scope == NameScope::kLogged) return std::nullopt;
  std::string name = ToLower(Trim(input));
  if (!AtItsPlace(opts.project, scope == NameScope::kSource ? "sources" : "tables", name)) return std::nullopt;
  return name;
}

Result<NameCatalog> LoadNames(const CommonOptions& opts, NameScope scope) {
  NameCatalog c;
  std::unique_ptr<Warehouse> wh;
  bool from_warehouse = scope == NameScope::kBuiltTable || scope == NameScope::kLogged;
  if (opts.service) {
    c = ProjectNames(opts.service->project()->project);
    if (from_warehouse) {
      auto session = opts.service->Connect();
      if (!session.ok()) return session.error();
      wh = std::move(*session);
    }
  } else {
    Diagnostics diags;  // a broken file is reported by the command itself
    LoadOptions load;
    load.threads = opts.threads;
    auto project = LoadProject(opts.project, &diags, load);
    if (!project.ok()) return project.error();
    c = ProjectNames(*project);
    if (from_warehouse && WarehouseExists(*project)) {  // none yet: no names from it
      auto opened = OpenWarehouse(*project);
      if (!opened.ok()) return opened.error();
      wh = std::move(*opened);
    }
  }
  if (!wh) return c;
  MetadataStore meta(wh.get(), Provenance{});
  auto built = meta.TableNames(MetadataStore::NameSource::kState);
  if (!built.ok()) return built.error();
  c.built = std::move(*built);
  if (scope == NameScope::kLogged) {
    auto logged = meta.TableNames(MetadataStore::NameSource::kLog);
    if (!logged.ok()) return logged.error();
    c.logged = std::move(*logged);
  }
  return c;
}

}  // namespace derived::cli
