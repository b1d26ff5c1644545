// Argument binding for built-in functions, and the global functions (range).
#include "template/builtins.h"

#include "template/limits.h"

#include "util/strings.h"

namespace derived::tmpl {

ArgBinder::ArgBinder(std::string_view function, std::vector<std::string_view> params, size_t required)
    : function_(function), params_(std::move(params)), required_(required), bound_(params_.size(), nullptr) {}

Status ArgBinder::Bind(std::span<const Value> args, const Kwargs& kwargs) {
  std::string fn = std::string(function_) + "()";
  if (args.size() > params_.size()) {
    std::string takes = params_.empty() ? "no arguments"
                                        : "at most " + std::to_string(params_.size()) + " argument" +
                                              (params_.size() == 1 ? "" : "s");
    return Error(fn + " takes " + takes + " (" + std::to_string(args.size()) + " given)");
  }
  for (size_t i = 0; i < args.size(); ++i) bound_[i] = &args[i];
  for (const auto& [name, value] : kwargs) {
    size_t i = 0;
    while (i < params_.size() && params_[i] != name) ++i;
    if (i == params_.size()) {
      std::vector<std::string> names(params_.begin(), params_.end());
      return Error(fn + " got an unexpected keyword argument '" + name + "'" + DidYouMean(name, names));
    }
    if (bound_[i] != nullptr) return Error(fn + " got multiple values for argument '" + name + "'");
    bound_[i] = &value;
  }
  for (size_t i = 0; i < required_; ++i) {
    if (bound_[i] == nullptr) return Error(fn + " missing required argument '" + std::string(params_[i]) + "'");
  }
  return Status::Ok();
}

namespace {

Result<Value> Range(const std::vector<Value>& args, const Kwargs& kwargs) {
  if (!kwargs.empty()) return Error("range() takes no keyword arguments");
  if (args.empty() || args.size() > 3) {
    return Error("range() takes 1 to 3 arguments (" + std::to_string(args.size()) + " given)");
  }
  for (const Value& a : args) {
    if (!a.is_int() && !a.is_bool()) return Error(std::string("range() arguments must be integers, not ") + a.TypeName());
  }
  auto get = [&](size_t i) { return args[i].is_bool() ? int64_t{args[i].as_bool()} : args[i].as_int(); };
  int64_t start = args.size() == 1 ? 0 : get(0);
  int64_t stop = args.size() == 1 ? get(0) : get(1);
  int64_t step = args.size() == 3 ? get(2) : 1;
  if (step == 0) return Error("range() step must not be zero");
  // Compute the length in doubles so extreme bounds cannot overflow.
  double span = (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step);
  if (span > static_cast<double>(kMaxListItems)) {
    return Error("range() would have more than " + std::to_string(kMaxListItems) +
                 " items, the most a template may build");
  }
  ValueList out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return Value::List(std::move(out));
}

}  // namespace

const Value* FindGlobalFunction(std::string_view name) {
  // Built on first use; a function-local static is initialized thread-safely.
  static const Value range = Value::Callable(Range);
  if (name == "range") return &range;
  return nullptr;
}

std::vector<std::string> GlobalFunctionNames() { return {"range"}; }

}  // namespace derived::tmpl
