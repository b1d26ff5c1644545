// Expression evaluation. Undefined values follow StrictUndefined: an unknown name is an
// error where it is evaluated; a missing key or attribute yields an undefined value that
// is an error wherever it is used, except in `is defined` tests and the `default` filter.
#include <algorithm>

#include "template/error.h"
#include "template/limits.h"
#include "template/methods.h"
#include "template/operators.h"
#include "template/render.h"
#include "util/strings.h"

namespace derived::tmpl {

namespace {

template <typename T>
const T& As(const ast::Expr& e) {
  return static_cast<const T&>(e);
}

}  // namespace

Value Renderer::Eval(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::kLiteral: return As<ast::Literal>(e).value;
    case ast::ExprKind::kName: return EvalName(As<ast::Name>(e));
    case ast::ExprKind::kList: {
      const auto& node = As<ast::ListExpr>(e);
      ValueList items;
      items.reserve(node.items.size());
      for (const auto& item : node.items) items.push_back(RequireDefined(Eval(*item), item->line));
      return node.is_tuple ? Value::Tuple(std::move(items)) : Value::List(std::move(items));
    }
    case ast::ExprKind::kDict: {
      const auto& node = As<ast::DictExpr>(e);
      std::vector<std::pair<std::string, Value>> entries;
      entries.reserve(node.entries.size());
      for (const auto& [key_expr, value_expr] : node.entries) {
        Value key = Eval(*key_expr);
        if (!key.is_string()) Throw(key_expr->line, std::string("dict keys must be strings, not ") + key.TypeName());
        entries.emplace_back(key.as_string(), RequireDefined(Eval(*value_expr), value_expr->line));
      }
      return Value::Dict(std::move(entries));
    }
    case ast::ExprKind::kGetAttr:
    case ast::ExprKind::kGetItem: {
      Value scratch;
      const Value& v = EvalRef(e, &scratch);
      return &v == &scratch ? std::move(scratch) : v;
    }
    case ast::ExprKind::kSlice: {
      const auto& node = As<ast::Slice>(e);
      Value object_scratch;
      const Value& object = RequireDefined(EvalRef(*node.object, &object_scratch), e.line);
      auto part = [&](const ast::ExprPtr& p) { return p ? RequireDefined(Eval(*p), p->line) : Value::None(); };
      Value start = part(node.start), stop = part(node.stop), step = part(node.step);
      // A string is walked, or with a step other than 1 listed character by character.
      bool listed = object.is_string() && !step.is_none() && !(step.is_int() && step.as_int() == 1);
      Spend(Cost(object) * (listed ? sizeof(std::string_view) : 1), e.line);
      return Check(GetSlice(object, start, stop, step), e.line);
    }
    case ast::ExprKind::kCall: return EvalCall(As<ast::Call>(e));
    case ast::ExprKind::kFilter: return EvalFilter(As<ast::Filter>(e));
    case ast::ExprKind::kTest: return Value(EvalTest(As<ast::Test>(e)));
    case ast::ExprKind::kUnary: {
      const auto& node = As<ast::Unary>(e);
      Value scratch;
      const Value& v = EvalRef(*node.operand, &scratch);
      if (node.op == ast::UnaryOp::kNot) return Value(!Truthy(v, e.line));
      return Check(ApplyUnary(node.op, RequireDefined(v, e.line)), e.line);
    }
    case ast::ExprKind::kBinary: {
      const auto& node = As<ast::Binary>(e);
      Value lhs_scratch, rhs_scratch;
      const Value& a = RequireDefined(EvalRef(*node.lhs, &lhs_scratch), node.lhs->line);
      const Value& b = RequireDefined(EvalRef(*node.rhs, &rhs_scratch), node.rhs->line);
      return Check(ApplyBinary(node.op, a, b), e.line);
    }
    case ast::ExprKind::kLogical: {
      // Python semantics: `a or b` is a when a is truthy, else b (not a bool).
      const auto& node = As<ast::Logical>(e);
      Value a = Eval(*node.lhs);
      if (Truthy(a, node.lhs->line) != node.is_and) return a;
      return Eval(*node.rhs);
    }
    case ast::ExprKind::kCompare: return Value(EvalCompare(As<ast::Compare>(e)));
    case ast::ExprKind::kCondExpr: {
      const auto& node = As<ast::CondExpr>(e);
      Value scratch;
      if (Truthy(EvalRef(*node.cond, &scratch), node.cond->line)) return Eval(*node.then);
      if (node.otherwise) return Eval(*node.otherwise);
      // Jinja yields its lenient Undefined here, even under StrictUndefined: it prints as ''.
      return Value::LenientUndefined("the inline if-expression on line " + std::to_string(e.line) +
                                     " evaluated to false and has no else branch");
    }
  }
  Throw(e.line, "unknown expression");
}

const Value& Renderer::EvalRef(const ast::Expr& e, Value* scratch) {
  switch (e.kind) {
    case ast::ExprKind::kLiteral: return As<ast::Literal>(e).value;
    case ast::ExprKind::kName: {
      Resolved r = Resolve(As<ast::Name>(e).name);
      if (r.value != nullptr) return *r.value;
      break;
    }
    case ast::ExprKind::kGetAttr: {
      const auto& node = As<ast::GetAttr>(e);
      if (node.object->kind == ast::ExprKind::kName) {
        // loop.index and friends, without building the whole `loop` dict.
        Resolved r = Resolve(As<ast::Name>(*node.object).name);
        if (r.loop != nullptr) return *scratch = LoopAttribute(*r.loop, node.name);
      }
      Value object_scratch;
      const Value& object = EvalRef(*node.object, &object_scratch);
      if (object.is_undefined()) Throw(e.line, object.undefined_hint());
      // A string's attributes are its methods, which scan it.
      if (object.is_string()) Spend(Cost(object), e.line);
      if (const Value* found = FindAttributeRef(object, node.name)) {
        // A reference into a temporary object would dangle, so copy that case.
        if (&object != &object_scratch) return *found;
        return *scratch = *found;
      }
      return *scratch = GetAttribute(object, node.name);
    }
    case ast::ExprKind::kGetItem: {
      const auto& node = As<ast::GetItem>(e);
      Value object_scratch, key_scratch;
      const Value& object = EvalRef(*node.object, &object_scratch);
      if (object.is_undefined()) Throw(e.line, object.undefined_hint());
      const Value& key = RequireDefined(EvalRef(*node.key, &key_scratch), node.key->line);
      if (object.is_string()) {
        // An index counts characters from the nearer end.
        int64_t i = key.is_int() ? key.as_int() : 0;
        size_t chars = static_cast<size_t>(i < 0 ? -(i + 1) : i);
        Spend(std::min(chars * 4, Cost(object)), e.line);
      }
      return *scratch = GetItem(object, key);
    }
    default: break;
  }
  return *scratch = Eval(e);
}

Value Renderer::EvalTolerant(const ast::Expr& e) {
  if (e.kind == ast::ExprKind::kName) {
    const auto& name = As<ast::Name>(e).name;
    Resolved r = Resolve(name);
    if (r.value == nullptr && r.loop == nullptr && r.macro.def == nullptr) {
      return Value::Undefined("undefined variable '" + name + "'");
    }
  }
  return Eval(e);
}

Value Renderer::EvalName(const ast::Name& e) {
  Resolved r = Resolve(e.name);
  if (r.value != nullptr) return *r.value;
  if (r.loop != nullptr) return LoopValue(*r.loop);
  if (r.macro.def != nullptr) return MacroValue(r.macro);
  for (const char* jinja_global : {"namespace", "dict", "cycler", "joiner", "lipsum"}) {
    if (e.name == jinja_global) Throw(e.line, "the Jinja global '" + e.name + "' is not supported");
  }
  Throw(e.line, "undefined variable '" + e.name + "'" + DidYouMean(e.name, VisibleNames()));
}

void Renderer::EvalArgs(const ast::Args& args, bool allow_undefined, std::vector<Value>* positional,
                        Kwargs* keyword) {
  positional->reserve(args.positional.size());
  for (const auto& arg : args.positional) {
    positional->push_back(Eval(*arg));
    if (!allow_undefined) RequireDefined(positional->back(), arg->line);
  }
  keyword->reserve(args.keyword.size());
  for (const auto& [name, arg] : args.keyword) {
    keyword->emplace_back(name, Eval(*arg));
    if (!allow_undefined) RequireDefined(keyword->back().second, arg->line);
  }
}

Value Renderer::EvalCall(const ast::Call& e) {
  std::vector<Value> args;
  Kwargs kwargs;
  if (e.callee->kind == ast::ExprKind::kName) {
    Resolved r = Resolve(As<ast::Name>(*e.callee).name);
    if (r.macro.def != nullptr) {
      // Macros may receive undefined arguments: the body can test them with `is defined`.
      EvalArgs(e.args, /*allow_undefined=*/true, &args, &kwargs);
      std::string out;
      CallMacro(r.macro, args, kwargs, e.line, &out);
      return Value(std::move(out));
    }
  }
  Value callee = Eval(*e.callee);
  RequireDefined(callee, e.callee->line);
  if (!callee.is_callable()) {
    std::string what = e.callee->kind == ast::ExprKind::kName ? "'" + As<ast::Name>(*e.callee).name + "'" : "value";
    Throw(e.line, what + " is not callable (type '" + callee.TypeName() + "')");
  }
  EvalArgs(e.args, /*allow_undefined=*/false, &args, &kwargs);
  for (const Value& a : args) Spend(Cost(a), e.line);
  for (const auto& [name, a] : kwargs) Spend(Cost(a), e.line);
  call_line_ = e.line;
  Result<Value> result = callee.as_callable()(args, kwargs);
  if (!result.ok()) {
    Error error = result.error();
    // Functions from other modules usually do not know where they were called from.
    if (error.where.file.empty()) error.where = Location{*file_, e.line, 0};
    throw TemplateError(std::move(error));
  }
  Spend(Cost(*result), e.line);
  return std::move(result).value();
}

Value Renderer::EvalFilter(const ast::Filter& e) {
  Value input_scratch;
  const Value& input = e.filter->accepts_undefined ? (input_scratch = EvalTolerant(*e.input))
                                                   : RequireDefined(EvalRef(*e.input, &input_scratch), e.input->line);
  std::vector<Value> args;
  Kwargs kwargs;
  EvalArgs(e.args, /*allow_undefined=*/false, &args, &kwargs);
  Spend(Cost(input), e.line);
  for (const Value& a : args) Spend(Cost(a), e.line);
  return Check(e.filter->fn(input, args, kwargs), e.line);
}

bool Renderer::EvalTest(const ast::Test& e) {
  Value scratch;
  const Value& operand = e.test->accepts_undefined ? (scratch = EvalTolerant(*e.operand))
                                                   : RequireDefined(EvalRef(*e.operand, &scratch), e.operand->line);
  std::vector<Value> args;
  args.reserve(e.args.size());
  for (const auto& arg : e.args) args.push_back(RequireDefined(Eval(*arg), arg->line));
  Spend(Cost(operand), e.line);
  Result<bool> r = e.test->fn(operand, args);
  if (!r.ok()) Throw(e.line, r.error().message);
  return *r != e.negated;
}

bool Renderer::EvalCompare(const ast::Compare& e) {
  Value left = RequireDefined(Eval(*e.first), e.first->line);
  for (const auto& [op, expr] : e.rest) {
    Value right = RequireDefined(Eval(*expr), expr->line);
    // Comparing lists compares what they hold, all the way down.
    size_t cap = kMaxRenderWork + 1;
    Spend(DeepCost(left, cap), e.line);
    Spend(DeepCost(right, cap), e.line);
    Result<bool> r = ApplyCompare(op, left, right);
    if (!r.ok()) Throw(e.line, r.error().message);
    if (!*r) return false;
    left = std::move(right);
  }
  return true;
}

Value Renderer::LoopAttribute(const LoopState& loop, std::string_view name) const {
  const size_t n = loop.items->size();
  const size_t i = loop.index;
  if (name == "index") return Value(i + 1);
  if (name == "index0") return Value(i);
  if (name == "revindex") return Value(n - i);
  if (name == "revindex0") return Value(n - i - 1);
  if (name == "first") return Value(i == 0);
  if (name == "last") return Value(i + 1 == n);
  if (name == "length") return Value(n);
  if (name == "depth") return Value(1);  // loops are not recursive here
  if (name == "depth0") return Value(0);
  if (name == "previtem") return i > 0 ? (*loop.items)[i - 1] : Value::Undefined("there is no previous item");
  if (name == "nextitem") return i + 1 < n ? (*loop.items)[i + 1] : Value::Undefined("there is no next item");
  if (name == "cycle") {
    return Value::Callable([i](const std::vector<Value>& args, const Kwargs& kwargs) -> Result<Value> {
      if (args.empty() || !kwargs.empty()) return Error("loop.cycle() needs at least one positional argument");
      return args[i % args.size()];
    });
  }
  return Value::Undefined("'loop' has no attribute '" + std::string(name) + "'");
}

Value Renderer::LoopValue(const LoopState& loop) const {
  std::vector<std::pair<std::string, Value>> entries;
  for (const char* name : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                           "previtem", "nextitem", "cycle"}) {
    entries.emplace_back(name, LoopAttribute(loop, name));
  }
  return Value::Dict(std::move(entries));
}

}  // namespace derived::tmpl
