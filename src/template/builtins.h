// The built-in filters (`x | upper`), tests (`x is defined`) and global functions
// (`range`). The sets are fixed, so the parser resolves filter and test names once, and an
// unknown name is a syntax error even in a branch that never runs.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "template/value.h"
#include "util/status.h"

namespace derived::tmpl {

// Errors are returned without a location; the renderer adds the filter's file and line.
using FilterFn = Result<Value> (*)(const Value& input, std::span<const Value> args, const Kwargs& kwargs);
using TestFn = Result<bool> (*)(const Value& operand, std::span<const Value> args);

struct FilterInfo {
  const char* name;
  FilterFn fn;
  // Only `default` may receive an undefined input; other filters reject it first.
  bool accepts_undefined;
};

struct TestInfo {
  const char* name;
  TestFn fn;
  bool accepts_undefined;  // `defined` and `undefined`
};

// nullptr when there is no such filter or test. The returned pointers are static.
const FilterInfo* FindFilter(std::string_view name);
const TestInfo* FindTest(std::string_view name);
std::vector<std::string> FilterNames();
std::vector<std::string> TestNames();

// Global functions every template sees, such as range(); nullptr when `name` is not one.
const Value* FindGlobalFunction(std::string_view name);
std::vector<std::string> GlobalFunctionNames();

// Binds a builtin's arguments by position or keyword, Python style. Fails on too many
// positional arguments, unknown keywords, or a parameter given twice.
class ArgBinder {
 public:
  // `params` excludes the filter's input; `required` is how many of them have no default.
  ArgBinder(std::string_view function, std::vector<std::string_view> params, size_t required);
  Status Bind(std::span<const Value> args, const Kwargs& kwargs);
  // REQUIRES: Bind() succeeded. nullptr when the argument was not given.
  const Value* Get(size_t i) const { return bound_[i]; }

 private:
  std::string_view function_;
  std::vector<std::string_view> params_;
  size_t required_;
  std::vector<const Value*> bound_;
};

}  // namespace derived::tmpl
