// Statements, scopes and macro calls. Expressions are in eval.cc.
#include "template/render.h"

#include <algorithm>

#include "template/builtins.h"
#include "template/error.h"
#include "template/limits.h"
#include "template/methods.h"
#include "util/strings.h"

namespace derived::tmpl {

namespace {

constexpr const char* kCalledFrom = " called from ";
constexpr size_t kMaxCallSitesInError = 3;

// Restores a member on scope exit, including when an error unwinds through.
template <typename T>
class Restore {
 public:
  Restore(T* slot, T value) : slot_(slot), saved_(*slot) { *slot_ = value; }
  ~Restore() { *slot_ = saved_; }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

 private:
  T* slot_;
  T saved_;
};

}  // namespace

const Renderer::Var* Renderer::Frame::Find(std::string_view name) const {
  for (const Var& v : vars) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

void Renderer::Frame::Set(std::string_view name, Value value) {
  for (Var& v : vars) {
    if (v.name == name) {
      v.value = std::move(value);
      v.macro = MacroRef();
      return;
    }
  }
  vars.push_back(Var{name, std::move(value), MacroRef()});
}

void Renderer::Frame::SetMacro(std::string_view name, const MacroRef& macro) {
  Set(name, Value());
  for (Var& v : vars) {
    if (v.name == name) v.macro = macro;
  }
}

void Renderer::Render(const Template& t, std::string* out, SourceMap* map) {
  Frame root;
  map_ = map;
  mapped_out_ = map ? out : nullptr;
  Restore<const std::string*> file(&file_, &t.file());
  Restore<Frame*> frame(&frame_, &root);
  Exec(t.body(), out);
}

void Renderer::Exec(const ast::Body& body, std::string* out) {
  for (const ast::StmtPtr& stmt : body) {
    switch (stmt->kind) {
      case ast::StmtKind::kText: EmitText(static_cast<const ast::Text&>(*stmt), out); break;
      case ast::StmtKind::kOutput: ExecOutput(static_cast<const ast::Output&>(*stmt), out); break;
      case ast::StmtKind::kIf: {
        const auto& node = static_cast<const ast::If&>(*stmt);
        const ast::Body* chosen = &node.otherwise;
        for (const auto& [cond, branch] : node.branches) {
          Value scratch;
          if (Truthy(EvalRef(*cond, &scratch), cond->line)) {
            chosen = &branch;
            break;
          }
        }
        // `if` opens no scope in Jinja: a set inside it is visible after endif.
        Exec(*chosen, out);
        break;
      }
      case ast::StmtKind::kFor: ExecFor(static_cast<const ast::For&>(*stmt), out); break;
      case ast::StmtKind::kSet: {
        const auto& node = static_cast<const ast::Set&>(*stmt);
        // Binding an undefined value is allowed (Jinja's StrictUndefined complains only
        // when it is used), so `{% set x = d.maybe %}{% if x is defined %}` works.
        BindTargets(frame_, node.targets, Eval(*node.value), node.line);
        break;
      }
      case ast::StmtKind::kSetBlock: {
        const auto& node = static_cast<const ast::SetBlock&>(*stmt);
        std::string text;
        Exec(node.body, &text);
        frame_->Set(node.target, Value(std::move(text)));
        break;
      }
      case ast::StmtKind::kMacro: {
        const auto& node = static_cast<const ast::Macro&>(*stmt);
        frame_->SetMacro(node.name, MacroRef{&node, file_, frame_});
        break;
      }
    }
  }
}

void Renderer::ExecOutput(const ast::Output& node, std::string* out) {
  // {{ macro(...) }} renders straight into the output instead of through a string.
  if (node.expr->kind == ast::ExprKind::kCall) {
    const auto& call = static_cast<const ast::Call&>(*node.expr);
    if (call.callee->kind == ast::ExprKind::kName) {
      Resolved r = Resolve(static_cast<const ast::Name&>(*call.callee).name);
      if (r.macro.def != nullptr) {
        std::vector<Value> args;
        Kwargs kwargs;
        EvalArgs(call.args, /*allow_undefined=*/true, &args, &kwargs);
        CallMacro(r.macro, args, kwargs, call.line, out);
        return;
      }
    }
  }
  Value scratch;
  EmitValue(EvalRef(*node.expr, &scratch), node, out);
}

void Renderer::ExecFor(const ast::For& node, std::string* out) {
  // Held for the whole loop: keeps the list alive even if the body rebinds its name.
  Value iterable = Eval(*node.iterable);
  RequireDefined(iterable, node.iterable->line);
  ValueList storage;
  const ValueList* items = nullptr;
  // Iterating a dict or a string first builds the list of its keys or characters.
  if (!iterable.is_list()) Spend(Cost(iterable), node.iterable->line);
  if (Status s = Iterate(iterable, &storage, &items); !s.ok()) Throw(node.iterable->line, s.error().message);

  Frame* outer = frame_;
  Frame frame;
  frame.parent = outer;
  Restore<Frame*> scope(&frame_, &frame);

  ValueList filtered;
  if (node.filter) {
    // `for x in xs if cond`: loop.length and loop.last count only the kept items.
    for (const Value& item : *items) {
      CountIteration(node.line);
      frame.vars.clear();
      BindTargets(&frame, node.targets, item, node.line);
      Value scratch;
      if (Truthy(EvalRef(*node.filter, &scratch), node.filter->line)) filtered.push_back(item);
    }
    items = &filtered;
  }
  if (items->empty()) {
    frame_ = outer;  // the else branch runs in the enclosing scope
    Exec(node.otherwise, out);
    return;
  }
  LoopState loop{items, 0};
  frame.loop = &loop;
  for (; loop.index < items->size(); ++loop.index) {
    CountIteration(node.line);
    // Each iteration starts afresh: a set in one iteration is gone in the next, as in Jinja.
    frame.vars.clear();
    BindTargets(&frame, node.targets, (*items)[loop.index], node.line);
    Exec(node.body, out);
  }
}

void Renderer::BindTargets(Frame* frame, const std::vector<std::string>& targets, const Value& value, int line) {
  if (targets.size() == 1) {
    frame->Set(targets[0], value);
    return;
  }
  RequireDefined(value, line);
  ValueList storage;
  const ValueList* items = nullptr;
  if (Status s = Iterate(value, &storage, &items); !s.ok()) {
    Throw(line, std::string("cannot unpack non-iterable ") + value.TypeName() + " object into " +
                    std::to_string(targets.size()) + " variables");
  }
  if (items->size() != targets.size()) {
    Throw(line, "expected " + std::to_string(targets.size()) + " values to unpack, got " +
                    std::to_string(items->size()));
  }
  for (size_t i = 0; i < targets.size(); ++i) frame->Set(targets[i], (*items)[i]);
}

Renderer::Resolved Renderer::Resolve(const std::string& name) const {
  Resolved r;
  for (const Frame* f = frame_; f != nullptr; f = f->parent) {
    if (const Var* v = f->Find(name)) {
      if (v->macro.def != nullptr) {
        r.macro = v->macro;
      } else {
        r.value = &v->value;
      }
      return r;
    }
    if (f->loop != nullptr && name == "loop") {
      r.loop = f->loop;
      return r;
    }
  }
  if (auto it = globals_.find(name); it != globals_.end()) {
    r.value = &it->second;
  } else if (auto m = library_.macros.find(name); m != library_.macros.end()) {
    r.macro = MacroRef{m->second.def, m->second.file, nullptr};
  } else {
    r.value = FindGlobalFunction(name);
  }
  return r;
}

std::vector<std::string> Renderer::VisibleNames() const {
  std::vector<std::string> names;
  for (const Frame* f = frame_; f != nullptr; f = f->parent) {
    for (const Var& v : f->vars) names.emplace_back(v.name);
    if (f->loop != nullptr) names.emplace_back("loop");
  }
  for (const auto& [name, value] : globals_) names.push_back(name);
  for (const auto& [name, entry] : library_.macros) names.push_back(name);
  for (const std::string& name : GlobalFunctionNames()) names.push_back(name);
  return names;
}

void Renderer::CallMacro(const MacroRef& macro, const std::vector<Value>& args, const Kwargs& kwargs, int call_line,
                         std::string* out) {
  const ast::Macro& def = *macro.def;
  const std::vector<ast::MacroParam>& params = def.params;
  std::string what = "macro '" + def.name + "'";
  if (args.size() > params.size()) {
    Throw(call_line, what + " takes " + std::to_string(params.size()) + " argument" +
                         (params.size() == 1 ? "" : "s") + " but " + std::to_string(args.size()) +
                         (args.size() == 1 ? " was" : " were") + " given");
  }
  Frame frame;
  frame.parent = macro.scope;
  std::vector<const Value*> bound(params.size(), nullptr);
  for (size_t i = 0; i < args.size(); ++i) bound[i] = &args[i];
  for (const auto& [name, value] : kwargs) {
    // Named, not captured: clang before 16 cannot capture a structured binding.
    auto it = std::find_if(params.begin(), params.end(),
                           [&key = name](const ast::MacroParam& p) { return p.name == key; });
    if (it == params.end()) {
      std::vector<std::string> names;
      for (const auto& p : params) names.push_back(p.name);
      Throw(call_line, what + " has no parameter named '" + name + "'" + DidYouMean(name, names));
    }
    size_t i = static_cast<size_t>(it - params.begin());
    if (bound[i] != nullptr) Throw(call_line, what + " got multiple values for argument '" + name + "'");
    bound[i] = &value;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i] == nullptr && !params[i].default_value) {
      Throw(call_line, what + " is missing required argument '" + params[i].name + "'");
    }
  }
  if (macro_depth_ >= kMaxMacroDepth) {
    Throw(call_line, what + ": macros nested more than " + std::to_string(kMaxMacroDepth) + " deep (runaway recursion?)");
  }

  std::string called_from = *file_ + ":" + std::to_string(call_line);
  // Output of a macro called from the template is placed, for the map, at that call.
  SourceMap::Site site = site_.macro != nullptr ? site_ : SourceMap::Site{call_line, &def.name};
  Restore<SourceMap::Site> site_scope(&site_, site);
  Restore<const std::string*> file(&file_, macro.file);
  Restore<Frame*> scope(&frame_, &frame);
  Restore<int> depth(&macro_depth_, macro_depth_ + 1);
  try {
    // Defaults are evaluated in the macro's scope, after the parameters before them.
    for (size_t i = 0; i < params.size(); ++i) {
      frame.Set(params[i].name, bound[i] != nullptr ? *bound[i] : Eval(*params[i].default_value));
    }
    Exec(def.body, out);
  } catch (TemplateError& e) {
    // Name the innermost few call sites; runaway recursion would otherwise add one per level.
    std::string& message = e.mutable_error().message;
    size_t frames = 0;
    for (size_t p = message.find(kCalledFrom); p != std::string::npos; p = message.find(kCalledFrom, p + 1))
      ++frames;
    if (frames < kMaxCallSitesInError) message += " (in " + what + kCalledFrom + called_from + ")";
    throw;
  }
}

Value Renderer::MacroValue(const MacroRef& macro) {
  return Value::Callable([this, macro](const std::vector<Value>& args, const Kwargs& kwargs) -> Result<Value> {
    try {
      std::string out;
      CallMacro(macro, args, kwargs, call_line_, &out);
      return Value(std::move(out));
    } catch (const TemplateError& e) {
      return e.error();
    }
  });
}

// ---- checks --------------------------------------------------------------------------------

void Renderer::Throw(int line, std::string message) const { Fail(*file_, line, std::move(message)); }

Value Renderer::Check(Result<Value> r, int line) {
  if (!r.ok()) Throw(line, r.error().message);
  Spend(Cost(*r), line);
  return std::move(r).value();
}

void Renderer::Spend(size_t bytes, int line) {
  work_ += bytes;
  if (work_ > kMaxRenderWork) {
    Throw(line, "the template built, printed or scanned more than " + std::to_string(kMaxRenderWork >> 20) +
                    " MiB in one render, the most it may (a loop over large values?)");
  }
}

size_t Renderer::Cost(const Value& v) {
  if (v.is_string()) return v.as_string().size();
  if (v.is_list()) return v.as_list().size() * sizeof(Value);
  if (v.is_dict()) return v.as_dict().size() * sizeof(ValueDict::Entry);
  return 0;
}

size_t Renderer::DeepCost(const Value& v, size_t cap) {
  size_t cost = Cost(v);
  if (v.is_list()) {
    for (const Value& item : v.as_list()) {
      if (cost > cap) break;
      cost += DeepCost(item, cap - cost);
    }
  } else if (v.is_dict()) {
    for (const auto& [key, item] : v.as_dict().entries()) {
      if (cost > cap) break;
      cost += key.size() + DeepCost(item, cap - cost);
    }
  }
  return cost;
}

void Renderer::CountIteration(int line) {
  if (++iterations_ > kMaxLoopIterations) {
    Throw(line, "more than " + std::to_string(kMaxLoopIterations) +
                    " loop iterations in one render, the most a template may run (nested loops multiply)");
  }
}

const Value& Renderer::RequireDefined(const Value& v, int line) const {
  if (v.is_undefined() && !v.is_lenient_undefined()) Throw(line, v.undefined_hint());
  return v;
}

bool Renderer::Truthy(const Value& v, int line) const { return RequireDefined(v, line).Truthy(); }

namespace {

Error OutputTooLarge() {
  return Error("the rendered text would be larger than " + std::to_string(kMaxStringBytes >> 20) +
               " MiB, the most a template may produce");
}

}  // namespace

void Renderer::EmitText(const ast::Text& node, std::string* out) {
  if (out->size() + node.text.size() > kMaxStringBytes) Throw(node.line, OutputTooLarge().message);
  Spend(node.text.size(), node.line);
  if (out == mapped_out_) map_->AddText(out->size(), node.text, *file_, node.line, node.column, site_);
  out->append(node.text);
}

void Renderer::EmitValue(const Value& v, const ast::Output& node, std::string* out) {
  size_t before = out->size();
  AppendOutput(v, node.expr->line, out);
  if (out == mapped_out_) map_->AddValue(before, out->size() - before, *file_, node.line, node.column, site_);
}

void Renderer::AppendOutput(const Value& v, int line, std::string* out) {
  RequireDefined(v, line);
  if (v.is_callable()) Throw(line, "cannot print a function; did you forget to call it with ()?");
  size_t before = out->size();
  if (!v.AppendStr(out, kMaxStringBytes)) Throw(line, OutputTooLarge().message);
  Spend(out->size() - before, line);
}

}  // namespace derived::tmpl
