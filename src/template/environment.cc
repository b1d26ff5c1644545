// Environment: the project's macro library, and the entry point for rendering.
#include <algorithm>
#include <exception>

#include "template/ast.h"
#include "template/error.h"
#include "template/render.h"
#include "template/source_map.h"
#include "template/template.h"

namespace derived::tmpl {

Environment::Environment() : macros_(std::make_unique<MacroLibrary>()) {}
Environment::~Environment() = default;
Environment::Environment(Environment&&) noexcept = default;
Environment& Environment::operator=(Environment&&) noexcept = default;

Status Environment::AddMacroFile(const TemplateSource& source) {
  Result<std::shared_ptr<const Template>> parsed = Parse(source);
  if (!parsed.ok()) return parsed.error();
  std::shared_ptr<const Template> file = std::move(parsed).value();

  // Check every macro before adding any, so a failed file leaves the library unchanged.
  std::vector<std::pair<const std::string*, MacroEntry>> found;
  for (const ast::StmtPtr& stmt : file->body()) {
    if (stmt->kind != ast::StmtKind::kMacro) continue;
    const auto& def = static_cast<const ast::Macro&>(*stmt);
    const MacroEntry* previous = nullptr;
    if (auto it = macros_->macros.find(def.name); it != macros_->macros.end()) previous = &it->second;
    for (const auto& [name, entry] : found) {
      if (*name == def.name) previous = &entry;
    }
    if (previous != nullptr) {
      return Error("macro '" + def.name + "' is already defined at " + *previous->file + ":" +
                       std::to_string(previous->def->line),
                   Location{file->file(), def.line, 0});
    }
    found.emplace_back(&def.name, MacroEntry{&def, &file->file()});
  }
  for (const auto& [name, entry] : found) macros_->macros.emplace(*name, entry);
  macros_->files.push_back(std::move(file));
  return Status::Ok();
}

Result<std::string> Environment::Render(const Template& t, const Context& globals, SourceMap* map) const {
  if (map) map->Clear();
  if (const std::string* text = t.plain_text()) {
    if (map && !t.body().empty()) {
      const auto& node = static_cast<const ast::Text&>(*t.body()[0]);
      map->AddText(0, node.text, t.file(), node.line, node.column, {});
    }
    return *text;
  }
  try {
    std::string out;
    out.reserve(1024);
    Renderer(*macros_, globals).Render(t, &out, map);
    return out;
  } catch (const TemplateError& e) {
    return e.error();
  } catch (const std::exception& e) {
    // E.g. bad_alloc, or an exception thrown by a caller-provided function: never let it
    // escape the module.
    return Error(std::string("internal error while rendering: ") + e.what(), Location{t.file(), 0, 0});
  } catch (...) {
    return Error("internal error while rendering: unknown exception", Location{t.file(), 0, 0});
  }
}

std::vector<std::string> Environment::MacroNames() const {
  std::vector<std::string> names;
  names.reserve(macros_->macros.size());
  for (const auto& [name, entry] : macros_->macros) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace derived::tmpl
