// Values that flow through templates: the part of Python's object model that SQL templates
// need. A Value is immutable once built; strings, lists, dicts and callables are held by
// shared pointer, so copying a Value copies a pointer and one Value may be read from many
// threads at once.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/status.h"

namespace derived::tmpl {

class Value;
class ValueDict;
using ValueList = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;
// A function callable from a template, e.g. {{ ref('orders') }}. An Error without a file is
// reported at the line of the call.
using Function = std::function<Result<Value>(const std::vector<Value>& args, const Kwargs& kwargs)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kDouble, kString, kList, kDict, kCallable };

  Value() : kind_(Kind::kNone) {}  // None
  Value(bool b) : kind_(Kind::kBool), b_(b) {}  // NOLINT: implicit by design, like Python
  Value(int64_t i) : kind_(Kind::kInt), i_(i) {}  // NOLINT
  template <std::integral T>
    requires(!std::is_same_v<T, bool> && !std::is_same_v<T, int64_t>)
  Value(T i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : kind_(Kind::kDouble), d_(d) {}  // NOLINT
  Value(std::string s);  // NOLINT
  Value(std::string_view s) : Value(std::string(s)) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}  // NOLINT

  static Value None() { return Value(); }
  // `hint` is the error reported when the value is used, e.g. "'dict object' has no
  // attribute 'x'". Only `is defined`-style tests and the `default` filter accept it.
  static Value Undefined(std::string hint = "undefined value");
  // Jinja's lenient Undefined (from `a if false` with no else): prints as '' and is falsy.
  static Value LenientUndefined(std::string hint);
  static Value List(ValueList items);
  // A list that prints as a Python tuple: (1, 2). Tuple literals and dict.items() make these.
  static Value Tuple(ValueList items);
  // Insertion-ordered; a repeated key keeps its first position and takes the last value.
  static Value Dict(std::vector<std::pair<std::string, Value>> entries);
  static Value Callable(Function fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_lenient_undefined() const { return kind_ == Kind::kUndefined && b_; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_double() const { return kind_ == Kind::kDouble; }
  bool is_number() const { return is_int() || is_double() || is_bool(); }  // bool is an int in Python
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }  // lists and tuples
  bool is_tuple() const { return kind_ == Kind::kList && b_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  // Each REQUIRES the matching kind.
  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_double() const { return d_; }
  const std::string& as_string() const { return *static_cast<const std::string*>(ptr_.get()); }
  const ValueList& as_list() const { return *static_cast<const ValueList*>(ptr_.get()); }
  const ValueDict& as_dict() const { return *static_cast<const ValueDict*>(ptr_.get()); }
  const Function& as_callable() const { return *static_cast<const Function*>(ptr_.get()); }
  // REQUIRES: is_undefined().
  const std::string& undefined_hint() const { return *static_cast<const std::string*>(ptr_.get()); }
  // REQUIRES: is_number(). Bools count as 0/1.
  double ToDouble() const;

  // Python truthiness. REQUIRES: !is_undefined() || is_lenient_undefined().
  bool Truthy() const;

  // Python's str(): what {{ value }} prints. Undefined prints as ''. Nested lists can
  // print far larger than they are held (a list of a million references to one long
  // string), so every form is bounded by kMaxStringBytes (limits.h):
  //   ToStr       fails past it;
  //   AppendStr   returns false once *out would pass `limit` (*out then holds a prefix);
  //   Str, Repr   stop there, for messages.
  Result<std::string> ToStr() const;
  std::string Str() const;
  [[nodiscard]] bool AppendStr(std::string* out, size_t limit) const;
  // Python's repr(): how a value prints inside a list or dict (['a', 1]).
  std::string Repr() const;
  [[nodiscard]] bool AppendRepr(std::string* out, size_t limit) const;

  // Python's type name, for error messages ("str", "int", "NoneType", ...).
  const char* TypeName() const;

  // Python ==: numbers compare by value (1 == 1.0 == True), containers deeply.
  friend bool operator==(const Value& a, const Value& b);

 private:
  explicit Value(Kind kind) : kind_(kind) {}

  Kind kind_;
  union {
    bool b_;  // kBool; kUndefined: lenient; kList: tuple
    int64_t i_ = 0;
    double d_;
  };
  // std::string (kString, kUndefined hint), ValueList, ValueDict or Function.
  std::shared_ptr<const void> ptr_;
};

// An immutable, insertion-ordered dict with string keys. Only ever held by shared pointer,
// because its index points into its own entries.
class ValueDict {
 public:
  using Entry = std::pair<std::string, Value>;
  explicit ValueDict(std::vector<Entry> entries);
  ValueDict(const ValueDict&) = delete;
  ValueDict& operator=(const ValueDict&) = delete;

  // nullptr when `key` is absent.
  const Value* Find(std::string_view key) const;
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
  // Built only for larger dicts; small ones are searched linearly.
  std::unordered_map<std::string_view, size_t> index_;
};

// Strings are UTF-8; like Python, lengths and indexes count code points.
size_t Utf8Length(std::string_view s);
std::vector<std::string_view> Utf8Chars(std::string_view s);
// The bytes of the code point starting at byte `pos`, for walking a string without
// listing its characters. REQUIRES: pos < s.size().
std::string_view Utf8CharAt(std::string_view s, size_t pos);
// The byte offset of code point `index` (s.size() for index == its length), counted from
// the start, or with index < 0 from the end (-1: the last one); nullopt when out of range.
std::optional<size_t> Utf8Offset(std::string_view s, int64_t index);

// Python's repr() of a float: shortest round-trip digits, "2.0", "1e-05", "inf".
void AppendDouble(double d, std::string* out);

}  // namespace derived::tmpl
