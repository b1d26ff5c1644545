// Jinja2 templates for SQL: the public API of the template module.
//
// A subset of Jinja2 with its default settings (no autoescape, trim_blocks and
// lstrip_blocks off, trailing newline dropped) and StrictUndefined: using an undefined
// variable is an error, except in `is defined` tests and the `default` filter. Parse a
// template once, then render it any number of times, from any number of threads.
//
//   auto t = tmpl::Parse({"tables/x.yaml", 12, "select * from {{ ref('orders') }}"});
//   tmpl::Environment env;  // plus env.AddMacroFile(...) for macros/*.sql
//   Result<std::string> sql = env.Render(**t, {{"ref", tmpl::Value::Callable(ref)}});
//
// Every error carries the file and the line in that file. Render can also say, for each
// byte of its output, which template line produced it (source_map.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "template/value.h"
#include "util/status.h"

namespace derived::tmpl {

namespace ast {
struct Stmt;
}

struct TemplateSource {
  std::string file;    // shown in errors
  int first_line = 1;  // line in `file` of the first line of `text` (SQL embedded in YAML starts mid-file)
  std::string text;
};

// A parsed template. Immutable, so it is safe to render from many threads at once.
class Template {
 public:
  // Use Parse(); this is public only so Parse can make_shared it.
  Template(std::string file, std::vector<std::unique_ptr<ast::Stmt>> body);
  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  const std::string& file() const { return file_; }
  // Non-null when the template has no tags at all: it renders as exactly this text.
  const std::string* plain_text() const { return plain_text_; }
  // The parsed statements (see ast.h), for the renderer.
  const std::vector<std::unique_ptr<ast::Stmt>>& body() const { return body_; }

 private:
  std::string file_;
  std::vector<std::unique_ptr<ast::Stmt>> body_;
  const std::string* plain_text_ = nullptr;  // points into body_
};

// Syntax errors (unclosed blocks, unknown tags, filters or tests) carry file and line.
// One linear pass over the text.
Result<std::shared_ptr<const Template>> Parse(const TemplateSource& source);

// The global variables of one render, e.g. `ref`, `var`, `this`.
using Context = std::map<std::string, Value>;

struct MacroLibrary;  // render.h
class SourceMap;     // source_map.h

// The project-wide macros (from macros/*.sql) every template can call. Names resolve
// innermost first: template variables, then the render's globals, then these macros, then
// built-in functions such as range().
class Environment {
 public:
  Environment();
  ~Environment();
  Environment(Environment&&) noexcept;
  Environment& operator=(Environment&&) noexcept;

  // Parses a macro file and registers every top-level {% macro %} in it; other top-level
  // text is ignored. Defining a macro name twice (in any files) is an error naming both
  // places, and then no macro of the file is added.
  // REQUIRES: not concurrent with any other call on this Environment.
  Status AddMacroFile(const TemplateSource& source);

  // Thread-safe: many threads may Render concurrently on a const Environment. With a
  // `map`, also records where each byte of the output came from (source_map.h); the map
  // is cleared first.
  Result<std::string> Render(const Template& t, const Context& globals, SourceMap* map = nullptr) const;

  // Sorted.
  std::vector<std::string> MacroNames() const;

 private:
  std::unique_ptr<MacroLibrary> macros_;
};

}  // namespace derived::tmpl
