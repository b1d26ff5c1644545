// The built-in Jinja "tests": `x is defined`, `x is none`, `n is divisibleby 3`, ...
// (Named predicates to keep them apart from the unit tests in *_test.cc.)
#include "template/builtins.h"

namespace derived::tmpl {

namespace {

using Args = std::span<const Value>;

Status NoArgs(const char* name, Args args) {
  if (!args.empty()) return Error(std::string("test '") + name + "' takes no arguments");
  return Status::Ok();
}

#define SIMPLE_TEST(fn_name, test_name, expr)                    \
  Result<bool> fn_name(const Value& v, Args args) {            \
    if (Status s = NoArgs(test_name, args); !s.ok()) return s.error(); \
    return (expr);                                               \
  }

SIMPLE_TEST(Defined, "defined", !v.is_undefined())
SIMPLE_TEST(Undefined, "undefined", v.is_undefined())
SIMPLE_TEST(None, "none", v.is_none())
SIMPLE_TEST(Boolean, "boolean", v.is_bool())
SIMPLE_TEST(True, "true", v.is_bool() && v.as_bool())
SIMPLE_TEST(False, "false", v.is_bool() && !v.as_bool())
SIMPLE_TEST(Integer, "integer", v.is_int())
SIMPLE_TEST(Float, "float", v.is_double())
SIMPLE_TEST(Number, "number", v.is_number())
SIMPLE_TEST(String, "string", v.is_string())
SIMPLE_TEST(Mapping, "mapping", v.is_dict())
SIMPLE_TEST(Iterable, "iterable", v.is_list() || v.is_dict() || v.is_string())
SIMPLE_TEST(Sequence, "sequence", v.is_list() || v.is_dict() || v.is_string())
SIMPLE_TEST(Callable, "callable", v.is_callable())

#undef SIMPLE_TEST

Result<int64_t> IntOperand(const char* name, const Value& v) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return int64_t{v.as_bool()};
  return Error(std::string("test '") + name + "' needs an integer, not " + v.TypeName());
}

Result<bool> Parity(const char* name, const Value& v, Args args, int64_t remainder) {
  if (Status s = NoArgs(name, args); !s.ok()) return s.error();
  Result<int64_t> i = IntOperand(name, v);
  if (!i.ok()) return i.error();
  return (*i % 2 + 2) % 2 == remainder;
}

Result<bool> Even(const Value& v, Args args) { return Parity("even", v, args, 0); }
Result<bool> Odd(const Value& v, Args args) { return Parity("odd", v, args, 1); }

Result<bool> DivisibleBy(const Value& v, Args args) {
  if (args.size() != 1) return Error("test 'divisibleby' takes exactly one argument");
  Result<int64_t> i = IntOperand("divisibleby", v);
  if (!i.ok()) return i.error();
  Result<int64_t> d = IntOperand("divisibleby", args[0]);
  if (!d.ok()) return d.error();
  if (*d == 0) return Error("division by zero");
  if (*d == -1) return true;  // INT64_MIN % -1 traps
  return *i % *d == 0;
}

constexpr TestInfo kTests[] = {
    {"boolean", Boolean, false}, {"callable", Callable, false}, {"defined", Defined, true},
    {"divisibleby", DivisibleBy, false}, {"even", Even, false}, {"false", False, false},
    {"float", Float, false},     {"integer", Integer, false},   {"iterable", Iterable, false},
    {"mapping", Mapping, false}, {"none", None, false},         {"number", Number, false},
    {"odd", Odd, false},         {"sequence", Sequence, false}, {"string", String, false},
    {"true", True, false},       {"undefined", Undefined, true},
};

}  // namespace

const TestInfo* FindTest(std::string_view name) {
  for (const TestInfo& t : kTests) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::vector<std::string> TestNames() {
  std::vector<std::string> names;
  for (const TestInfo& t : kTests) names.emplace_back(t.name);
  return names;
}

}  // namespace derived::tmpl
