// Renders a parsed template: runs its statements into one output string and evaluates
// expressions against a chain of scopes. A Renderer serves one Render() call on one
// thread; it reads the Template, the macro library and the globals and never changes
// them, which is what makes concurrent renders safe. Internal to the module.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "template/ast.h"
#include "template/source_map.h"
#include "template/template.h"
#include "template/value.h"

namespace derived::tmpl {

struct MacroEntry {
  const ast::Macro* def;
  const std::string* file;  // the macro's file, for errors inside it
};

// The project-wide macros Environment::AddMacroFile collected.
struct MacroLibrary {
  std::unordered_map<std::string, MacroEntry> macros;
  std::vector<std::shared_ptr<const Template>> files;  // own the macros' syntax trees
};

class Renderer {
 public:
  Renderer(const MacroLibrary& library, const Context& globals) : library_(library), globals_(globals) {}
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Appends the rendered template to *out, and where each appended byte came from to
  // *map when it is not null. Throws TemplateError.
  void Render(const Template& t, std::string* out, SourceMap* map = nullptr);

 private:
  struct Frame;

  // The state of one {% for %}, read through `loop.index` and friends.
  struct LoopState {
    const ValueList* items;
    size_t index = 0;
  };

  // A macro and the scope its body sees: the frame it was defined in (inline macros) or
  // just the globals (project macros, scope == nullptr).
  struct MacroRef {
    const ast::Macro* def = nullptr;
    const std::string* file = nullptr;
    const Frame* scope = nullptr;
  };

  struct Var {
    std::string_view name;  // views a name owned by a syntax tree
    Value value;
    MacroRef macro;  // set for {% macro %} definitions; `value` is then unused
  };

  // One scope: the template's top level, a for loop's body, or a macro call.
  struct Frame {
    const Frame* parent = nullptr;  // nullptr: the globals come next
    std::vector<Var> vars;          // few, so searched linearly
    const LoopState* loop = nullptr;

    const Var* Find(std::string_view name) const;
    void Set(std::string_view name, Value value);
    void SetMacro(std::string_view name, const MacroRef& macro);
  };

  // What a name refers to; at most one member is set.
  struct Resolved {
    const Value* value = nullptr;
    const LoopState* loop = nullptr;
    MacroRef macro;
  };

  // ---- statements, scopes and macros (render.cc)
  void Exec(const ast::Body& body, std::string* out);
  void ExecOutput(const ast::Output& node, std::string* out);
  void ExecFor(const ast::For& node, std::string* out);
  void BindTargets(Frame* frame, const std::vector<std::string>& targets, const Value& value, int line);
  Resolved Resolve(const std::string& name) const;
  std::vector<std::string> VisibleNames() const;
  // Binds arguments and renders the macro body into *out. Binding errors are reported at
  // the call; errors inside the body at the macro's own file and line.
  void CallMacro(const MacroRef& macro, const std::vector<Value>& args, const Kwargs& kwargs, int call_line,
                 std::string* out);
  // A macro as a first-class value, e.g. passed to another macro.
  Value MacroValue(const MacroRef& macro);

  // ---- expressions (eval.cc)
  Value Eval(const ast::Expr& e);
  // Like Eval, but may return a reference to a stored value instead of copying it; uses
  // *scratch when it has to compute. Valid until *scratch changes or a statement runs.
  const Value& EvalRef(const ast::Expr& e, Value* scratch);
  // For `is defined` and `default`: an unknown name becomes an undefined value, not an error.
  Value EvalTolerant(const ast::Expr& e);
  Value EvalName(const ast::Name& e);
  Value EvalCall(const ast::Call& e);
  Value EvalFilter(const ast::Filter& e);
  bool EvalTest(const ast::Test& e);
  bool EvalCompare(const ast::Compare& e);
  void EvalArgs(const ast::Args& args, bool allow_undefined, std::vector<Value>* positional, Kwargs* keyword);
  Value LoopAttribute(const LoopState& loop, std::string_view name) const;
  Value LoopValue(const LoopState& loop) const;

  // ---- checks that turn misuse into errors at `line` of the current file
  [[noreturn]] void Throw(int line, std::string message) const;
  // The value of an operation, or its error thrown; its cost is spent (below).
  Value Check(Result<Value> r, int line);
  // The bounds of limits.h: `bytes` more built or scanned (kMaxRenderWork), one more loop
  // iteration (kMaxLoopIterations). Throw past them.
  void Spend(size_t bytes, int line);
  void CountIteration(int line);
  // What handling v costs: a string's bytes, or the slots of a list or dict (not what
  // they hold). DeepCost also counts what they hold, stopping once past `cap`.
  static size_t Cost(const Value& v);
  static size_t DeepCost(const Value& v, size_t cap);
  // Fails on a strict undefined value; lenient ones pass.
  const Value& RequireDefined(const Value& v, int line) const;
  bool Truthy(const Value& v, int line) const;
  // Prints v into *out, which may not pass kMaxStringBytes.
  void AppendOutput(const Value& v, int line, std::string* out);
  // Appends template text or an expression's value, recording its origin when `out` is
  // the output the source map describes (not a {% set %} block or a macro's return value).
  void EmitText(const ast::Text& node, std::string* out);
  void EmitValue(const Value& v, const ast::Output& node, std::string* out);

  const MacroLibrary& library_;
  const Context& globals_;
  const std::string* file_ = nullptr;  // of the template or macro running now
  Frame* frame_ = nullptr;             // innermost scope; `set` writes here
  int macro_depth_ = 0;
  int64_t iterations_ = 0;  // {% for %} iterations so far, all loops together
  size_t work_ = 0;         // bytes built, printed, copied or scanned so far
  int call_line_ = 0;  // line of the call being made, for macros called through a Value
  SourceMap* map_ = nullptr;
  const std::string* mapped_out_ = nullptr;  // the string map_ describes
  SourceMap::Site site_;                     // the macro call from the template we are in
};

}  // namespace derived::tmpl
