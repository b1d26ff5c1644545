// The built-in filters, with Jinja2's names, parameters and behaviour.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "template/builtins.h"
#include "template/limits.h"
#include "template/methods.h"

namespace derived::tmpl {

namespace {

using Args = std::span<const Value>;

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

Result<Value> Upper(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("upper", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> s = in.ToStr();
  if (!s.ok()) return s.error();
  return Value(AsciiUpper(*s));
}

Result<Value> Lower(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("lower", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> s = in.ToStr();
  if (!s.ok()) return s.error();
  return Value(AsciiLower(*s));
}

Result<Value> Capitalize(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("capitalize", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> text = in.ToStr();
  if (!text.ok()) return text.error();
  std::string s = AsciiLower(*text);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return Value(std::move(s));
}

// default(value, default_value='', boolean=false): replaces an undefined value, or with
// boolean=true any falsy one.
Result<Value> Default(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("default", {"default_value", "boolean"}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  bool boolean = b.Get(1) != nullptr && b.Get(1)->Truthy();
  if (in.is_undefined() || (boolean && !in.Truthy())) return b.Get(0) != nullptr ? *b.Get(0) : Value("");
  return in;
}

Result<Value> Join(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("join", {"d"}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> sep = b.Get(0) != nullptr ? b.Get(0)->ToStr() : std::string();
  if (!sep.ok()) return sep.error();
  ValueList storage;
  const ValueList* items = nullptr;
  Status s = Iterate(in, &storage, &items);
  if (!s.ok()) return s.error();
  std::string out;
  for (size_t i = 0; i < items->size(); ++i) {
    if (i > 0 && out.size() + sep->size() > kMaxStringBytes) return StringTooLarge();
    if (i > 0) out += *sep;
    if (!(*items)[i].AppendStr(&out, kMaxStringBytes)) return StringTooLarge();
  }
  return Value(std::move(out));
}

Result<Value> Replace(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("replace", {"old", "new", "count"}, 2);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  const Value* count = b.Get(2);
  if (count != nullptr && !count->is_none() && !count->is_int()) {
    return Error(std::string("replace() count must be an integer, not ") + count->TypeName());
  }
  Result<std::string> text = in.ToStr(), from = b.Get(0)->ToStr(), to = b.Get(1)->ToStr();
  for (const Result<std::string>* r : {&text, &from, &to}) {
    if (!r->ok()) return r->error();
  }
  Result<std::string> out = PyReplace(*text, *from, *to, count != nullptr && count->is_int() ? count->as_int() : -1);
  if (!out.ok()) return out.error();
  return Value(std::move(*out));
}

Result<Value> Trim(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("trim", {"chars"}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> chars = b.Get(0) != nullptr && !b.Get(0)->is_none() ? b.Get(0)->ToStr() : std::string();
  Result<std::string> text = in.ToStr();
  if (!chars.ok()) return chars.error();
  if (!text.ok()) return text.error();
  return Value(PyStrip(*text, *chars, true, true));
}

Result<Value> Length(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("length", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  if (in.is_string()) return Value(Utf8Length(in.as_string()));
  if (in.is_list()) return Value(in.as_list().size());
  if (in.is_dict()) return Value(in.as_dict().size());
  return Error(std::string("object of type '") + in.TypeName() + "' has no len()");
}

Result<Value> String(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("string", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Result<std::string> s = in.ToStr();
  if (!s.ok()) return s.error();
  return Value(std::move(*s));
}

// Python's float(str): an optional sign, then inf, infinity or nan, or decimal digits
// (single underscores between digits) with an optional fraction and exponent; surrounding
// whitespace allowed. Checked here because strtod also takes hex ("0x1A") and "nan(...)".
bool ParseDouble(std::string_view text, double* out) {
  std::string_view s = PyStrip(text, "", true, true);
  std::string clean;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
  std::string word = AsciiLower(s.substr(i));
  if (word == "inf" || word == "infinity" || word == "nan") {
    clean += word;
  } else {
    auto digits = [&] {  // one or more digits, single underscores between them
      size_t start = i;
      while (i < s.size() && (IsAsciiDigit(s[i]) || (s[i] == '_' && i > start && i + 1 < s.size() &&
                                                     IsAsciiDigit(s[i - 1]) && IsAsciiDigit(s[i + 1])))) {
        if (s[i] != '_') clean.push_back(s[i]);
        ++i;
      }
      return i > start;
    };
    bool whole = digits();
    bool fraction = false;
    if (i < s.size() && s[i] == '.') {
      clean.push_back(s[i++]);
      fraction = digits();
    }
    if (!whole && !fraction) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      clean.push_back(s[i++]);
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
      if (!digits()) return false;
    }
    if (i != s.size()) return false;
  }
  *out = std::strtod(clean.c_str(), nullptr);
  return true;
}

// Python's int(str, base): sign, optional base prefix, digits with single underscores.
bool ParseInt(std::string_view text, int base, int64_t* out) {
  std::string_view s = PyStrip(text, "", true, true);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) return false;  // from_chars would take "+-5"
  }
  if (s.size() > 2 && s[0] == '0') {
    char p = static_cast<char>(s[1] | 0x20);
    if ((base == 16 && p == 'x') || (base == 8 && p == 'o') || (base == 2 && p == 'b')) s.remove_prefix(2);
  }
  std::string digits = negative ? "-" : "";
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (digits.empty() || digits == "-") return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out, base);
  return ec == std::errc() && end == digits.data() + digits.size();
}

Result<Value> Int(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("int", {"default", "base"}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Value fallback = b.Get(0) != nullptr ? *b.Get(0) : Value(0);
  int base = b.Get(1) != nullptr && b.Get(1)->is_int() ? static_cast<int>(b.Get(1)->as_int()) : 10;
  if (base < 2 || base > 36) return Error("int() base must be between 2 and 36");
  if (in.is_int()) return in;
  if (in.is_bool()) return Value(in.as_bool() ? 1 : 0);
  double d = 0;
  if (in.is_double()) {
    d = in.as_double();
  } else if (in.is_string()) {
    int64_t i = 0;
    if (ParseInt(in.as_string(), base, &i)) return Value(i);
    if (!ParseDouble(in.as_string(), &d)) return fallback;
  } else {
    return fallback;
  }
  if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
  return Value(static_cast<int64_t>(d));
}

Result<Value> Float(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("float", {"default"}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  Value fallback = b.Get(0) != nullptr ? *b.Get(0) : Value(0.0);
  if (in.is_number()) return Value(in.ToDouble());
  double d = 0;
  if (in.is_string() && ParseDouble(in.as_string(), &d)) return Value(d);
  return fallback;
}

Result<Value> Abs(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("abs", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  if (in.is_double()) return Value(std::fabs(in.as_double()));
  if (in.is_int() || in.is_bool()) {
    int64_t i = in.is_bool() ? int64_t{in.as_bool()} : in.as_int();
    if (i == INT64_MIN) return Error("integer overflow");
    return Value(i < 0 ? -i : i);
  }
  return Error(std::string("bad operand type for abs(): '") + in.TypeName() + "'");
}

Result<Value> FirstOrLast(const Value& in, Args args, const Kwargs& kwargs, bool first) {
  ArgBinder b(first ? "first" : "last", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  ValueList storage;
  const ValueList* items = nullptr;
  Status s = Iterate(in, &storage, &items);
  if (!s.ok()) return s.error();
  if (items->empty()) return Value::Undefined(std::string("no ") + (first ? "first" : "last") + " item: the sequence is empty");
  return first ? items->front() : items->back();
}

Result<Value> First(const Value& in, Args args, const Kwargs& kwargs) { return FirstOrLast(in, args, kwargs, true); }
Result<Value> Last(const Value& in, Args args, const Kwargs& kwargs) { return FirstOrLast(in, args, kwargs, false); }

Result<Value> List(const Value& in, Args args, const Kwargs& kwargs) {
  ArgBinder b("list", {}, 0);
  if (Status s = b.Bind(args, kwargs); !s.ok()) return s.error();
  ValueList storage;
  const ValueList* items = nullptr;
  Status s = Iterate(in, &storage, &items);
  if (!s.ok()) return s.error();
  if (in.is_list() && !in.is_tuple()) return in;
  return Value::List(items == &storage ? std::move(storage) : *items);
}

constexpr FilterInfo kFilters[] = {
    {"abs", Abs, false},         {"capitalize", Capitalize, false}, {"count", Length, false},
    {"d", Default, true},        {"default", Default, true},        {"first", First, false},
    {"float", Float, false},     {"int", Int, false},               {"join", Join, false},
    {"last", Last, false},       {"length", Length, false},         {"list", List, false},
    {"lower", Lower, false},     {"replace", Replace, false},       {"string", String, false},
    {"trim", Trim, false},       {"upper", Upper, false},
};

}  // namespace

const FilterInfo* FindFilter(std::string_view name) {
  for (const FilterInfo& f : kFilters) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::vector<std::string> FilterNames() {
  std::vector<std::string> names;
  for (const FilterInfo& f : kFilters) names.emplace_back(f.name);
  return names;
}

}  // namespace derived::tmpl
