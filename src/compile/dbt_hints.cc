// dbt's ref() and source() as template functions that fail with the name to write: in
// Derived a table name in the SQL is the reference, so users coming from dbt get the
// exact replacement instead of "undefined variable 'ref'".
#include <fmt/format.h>

#include <algorithm>

#include "compile/stages.h"
#include "util/strings.h"

namespace derived::compile_internal {
namespace {

struct Names {
  std::vector<std::string> all;      // qualified names of tables and sources
  std::vector<std::string> sources;  // qualified names of sources
};

std::shared_ptr<const Names> NamesOf(const Project& project) {
  auto n = std::make_shared<Names>();
  for (const auto& s : project.sources) {
    n->all.push_back(s.qualified_name());
    n->sources.push_back(s.qualified_name());
  }
  for (const auto& t : project.tables) n->all.push_back(t.qualified_name());
  return n;
}

bool Contains(const std::vector<std::string>& v, const std::string& name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

// What ref('name') should have been, resolving `name` as an unqualified name in the SQL
// would (the table's own dataset first), or an explanation with a suggestion.
std::string RefReplacement(const Names& names, const std::string& dataset, const std::string& written) {
  std::string name = ToLower(written);
  if (name.find('.') != std::string::npos) {
    if (Contains(names.all, name)) return fmt::format("write the table name instead: {}", name);
    return fmt::format("write the table name instead; no table or source is named '{}'{}", written,
                       DidYouMean(name, names.all));
  }
  if (Contains(names.all, dataset + "." + name))
    return fmt::format("write the table name instead: {}.{}", dataset, name);
  std::vector<std::string> same_name;
  std::vector<std::string> bare;
  for (const auto& q : names.all) {
    std::string table = q.substr(q.find('.') + 1);
    if (table == name) same_name.push_back(q);
    bare.push_back(table);
  }
  if (same_name.size() == 1) return fmt::format("write the table name instead: {}", same_name[0]);
  if (same_name.size() > 1) {
    return fmt::format("write the table name instead, qualified by its dataset: one of {}",
                       Join(same_name, ", "));
  }
  std::string hint = DidYouMean(name, names.all);
  if (hint.empty()) {
    std::string close = ClosestMatch(name, bare);
    for (const auto& q : names.all) {
      if (!close.empty() && q.substr(q.find('.') + 1) == close) {
        hint = fmt::format(" (did you mean '{}'?)", q);
        break;
      }
    }
  }
  return fmt::format("write the table name (dataset.table) instead; no table or source is named '{}'{}",
                     written, hint);
}

std::string SourceReplacement(const Names& names, const std::string& dataset, const std::string& table) {
  std::string name = ToLower(dataset) + "." + ToLower(table);
  if (Contains(names.all, name)) return fmt::format("write the source's name instead: {}", name);
  return fmt::format("write the source's name (dataset.table) instead; there is no source '{}'{}", name,
                     DidYouMean(name, names.sources.empty() ? names.all : names.sources));
}

std::vector<std::string> StringArgs(const std::vector<tmpl::Value>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    if (!a.is_string()) return {};
    out.push_back(a.as_string());
  }
  return out;
}

}  // namespace

std::map<std::string, tmpl::Context> MakeDbtHints(const Project& project, bool ref, bool source) {
  std::shared_ptr<const Names> names = NamesOf(project);
  std::map<std::string, tmpl::Context> out;
  for (const auto& t : project.tables) {
    tmpl::Context& hints = out[t.dataset];
    if (!hints.empty()) continue;
    std::string dataset = t.dataset;
    if (ref) {
      hints["ref"] = tmpl::Value::Callable([names, dataset](const std::vector<tmpl::Value>& args,
                                                            const tmpl::Kwargs&) -> Result<tmpl::Value> {
        std::vector<std::string> s = StringArgs(args);
        // ref('model') or dbt's two-argument ref('package', 'model').
        if (s.empty() || s.size() > 2) {
          return Error("Derived has no ref(): a table name in the SQL is the reference; write dataset.table");
        }
        return Error("Derived has no ref(): " + RefReplacement(*names, dataset, s.back()));
      });
    }
    if (source) {
      hints["source"] = tmpl::Value::Callable(
          [names](const std::vector<tmpl::Value>& args, const tmpl::Kwargs&) -> Result<tmpl::Value> {
            std::vector<std::string> s = StringArgs(args);
            if (s.size() != 2) {
              return Error(
                  "Derived has no source(): a source's name in the SQL is the reference; write "
                  "dataset.table");
            }
            return Error("Derived has no source(): " + SourceReplacement(*names, s[0], s[1]));
          });
    }
  }
  return out;
}

}  // namespace derived::compile_internal
