#include "template/methods.h"

#include <algorithm>

#include "template/builtins.h"
#include "template/limits.h"

namespace derived::tmpl {

namespace {

bool IsPySpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

enum class Method {
  kItems, kKeys, kValues, kGet,  // dict
  kUpper, kLower, kStrip, kLStrip, kRStrip, kStartsWith, kEndsWith, kSplit, kReplace, kJoin,  // str
};

struct MethodInfo {
  std::string_view name;
  Method method;
  Value::Kind receiver;
};

constexpr MethodInfo kMethods[] = {
    {"items", Method::kItems, Value::Kind::kDict},       {"keys", Method::kKeys, Value::Kind::kDict},
    {"values", Method::kValues, Value::Kind::kDict},     {"get", Method::kGet, Value::Kind::kDict},
    {"upper", Method::kUpper, Value::Kind::kString},     {"lower", Method::kLower, Value::Kind::kString},
    {"strip", Method::kStrip, Value::Kind::kString},     {"lstrip", Method::kLStrip, Value::Kind::kString},
    {"rstrip", Method::kRStrip, Value::Kind::kString},   {"startswith", Method::kStartsWith, Value::Kind::kString},
    {"endswith", Method::kEndsWith, Value::Kind::kString}, {"split", Method::kSplit, Value::Kind::kString},
    {"replace", Method::kReplace, Value::Kind::kString}, {"join", Method::kJoin, Value::Kind::kString},
};

const MethodInfo* FindMethod(const Value& object, std::string_view name) {
  for (const MethodInfo& m : kMethods) {
    if (m.name == name && m.receiver == object.kind()) return &m;
  }
  return nullptr;
}

// How Jinja names a value in "has no attribute" messages.
std::string Label(const Value& v) {
  if (v.is_none()) return "'None'";
  return std::string("'") + v.TypeName() + " object'";
}

Result<std::string> StrArg(const Value* v) {
  if (v == nullptr) return std::string();
  return v->ToStr();
}

Result<Value> Affix(const std::string& self, const Value& arg, bool prefix) {
  auto test = [&](const Value& a) -> Result<bool> {
    if (!a.is_string()) return Error(std::string("expected a string or a tuple of strings, not ") + a.TypeName());
    const std::string& s = a.as_string();
    if (s.size() > self.size()) return false;
    return prefix ? self.compare(0, s.size(), s) == 0 : self.compare(self.size() - s.size(), s.size(), s) == 0;
  };
  if (!arg.is_list()) {
    Result<bool> r = test(arg);
    if (!r.ok()) return r.error();
    return Value(*r);
  }
  for (const Value& a : arg.as_list()) {
    Result<bool> r = test(a);
    if (!r.ok()) return r.error();
    if (*r) return Value(true);
  }
  return Value(false);
}

Result<Value> Split(const std::string& self, const Value* sep_arg, const Value* max_arg) {
  int64_t max = max_arg != nullptr && max_arg->is_int() ? max_arg->as_int() : -1;
  ValueList parts;
  if (sep_arg == nullptr || sep_arg->is_none()) {
    // Runs of whitespace separate; leading and trailing whitespace is dropped.
    std::string_view rest = PyStrip(self, "", true, false);
    while (!rest.empty()) {
      if (max >= 0 && static_cast<int64_t>(parts.size()) == max) {
        parts.emplace_back(PyStrip(rest, "", false, true));
        break;
      }
      size_t end = 0;
      while (end < rest.size() && !IsPySpace(rest[end])) ++end;
      parts.emplace_back(rest.substr(0, end));
      if (parts.size() > kMaxListItems) return ListTooLong();
      rest = PyStrip(rest.substr(end), "", true, false);
    }
    return Value::List(std::move(parts));
  }
  Result<std::string> sep = sep_arg->ToStr();
  if (!sep.ok()) return sep.error();
  if (sep->empty()) return Error("empty separator");
  size_t start = 0;
  for (size_t p; (max < 0 || static_cast<int64_t>(parts.size()) < max) && (p = self.find(*sep, start)) != std::string::npos;) {
    parts.emplace_back(self.substr(start, p - start));
    if (parts.size() >= kMaxListItems) return ListTooLong();
    start = p + sep->size();
  }
  parts.emplace_back(self.substr(start));
  return Value::List(std::move(parts));
}

Result<Value> CallMethod(const MethodInfo& m, const Value& self, const std::vector<Value>& args, const Kwargs& kwargs) {
  auto bind = [&](std::vector<std::string_view> params, size_t required) -> Result<ArgBinder> {
    ArgBinder b(m.name, std::move(params), required);
    Status s = b.Bind(args, kwargs);
    if (!s.ok()) return s.error();
    return b;
  };
  Result<ArgBinder> b = bind({}, 0);
  switch (m.method) {
    case Method::kItems:
    case Method::kKeys:
    case Method::kValues: {
      if (!b.ok()) return b.error();
      ValueList out;
      for (const auto& [k, v] : self.as_dict().entries()) {
        if (m.method == Method::kItems) {
          out.push_back(Value::Tuple({Value(k), v}));
        } else {
          out.push_back(m.method == Method::kKeys ? Value(k) : v);
        }
      }
      return Value::List(std::move(out));
    }
    case Method::kGet: {
      if (!(b = bind({"key", "default"}, 1)).ok()) return b.error();
      const Value* key = b->Get(0);
      const Value* found = key->is_string() ? self.as_dict().Find(key->as_string()) : nullptr;
      if (found != nullptr) return *found;
      return b->Get(1) != nullptr ? *b->Get(1) : Value::None();
    }
    case Method::kUpper:
      if (!b.ok()) return b.error();
      return Value(AsciiUpper(self.as_string()));
    case Method::kLower:
      if (!b.ok()) return b.error();
      return Value(AsciiLower(self.as_string()));
    case Method::kStrip:
    case Method::kLStrip:
    case Method::kRStrip: {
      if (!(b = bind({"chars"}, 0)).ok()) return b.error();
      const Value* chars = b->Get(0);
      Result<std::string> c = chars == nullptr || chars->is_none() ? std::string() : chars->ToStr();
      if (!c.ok()) return c.error();
      return Value(PyStrip(self.as_string(), *c, m.method != Method::kRStrip, m.method != Method::kLStrip));
    }
    case Method::kStartsWith:
    case Method::kEndsWith:
      if (!(b = bind({"prefix"}, 1)).ok()) return b.error();
      return Affix(self.as_string(), *b->Get(0), m.method == Method::kStartsWith);
    case Method::kSplit:
      if (!(b = bind({"sep", "maxsplit"}, 0)).ok()) return b.error();
      return Split(self.as_string(), b->Get(0), b->Get(1));
    case Method::kReplace: {
      if (!(b = bind({"old", "new", "count"}, 2)).ok()) return b.error();
      const Value* count = b->Get(2);
      Result<std::string> from = StrArg(b->Get(0)), to = StrArg(b->Get(1));
      if (!from.ok()) return from.error();
      if (!to.ok()) return to.error();
      Result<std::string> out =
          PyReplace(self.as_string(), *from, *to, count != nullptr && count->is_int() ? count->as_int() : -1);
      if (!out.ok()) return out.error();
      return Value(std::move(*out));
    }
    case Method::kJoin: {
      if (!(b = bind({"iterable"}, 1)).ok()) return b.error();
      ValueList storage;
      const ValueList* items = nullptr;
      Status s = Iterate(*b->Get(0), &storage, &items);
      if (!s.ok()) return s.error();
      std::string out;
      for (size_t i = 0; i < items->size(); ++i) {
        if (i > 0 && out.size() + self.as_string().size() > kMaxStringBytes) return StringTooLarge();
        if (i > 0) out += self.as_string();
        if (!(*items)[i].AppendStr(&out, kMaxStringBytes)) return StringTooLarge();
      }
      return Value(std::move(out));
    }
  }
  return Error("unknown method");
}

// Python's slice.indices(): clamps start/stop for a sequence of length n.
Status SliceBounds(int64_t n, const Value& start_v, const Value& stop_v, const Value& step_v, int64_t* start,
                   int64_t* stop, int64_t* step) {
  for (const Value* v : {&start_v, &stop_v, &step_v}) {
    if (!v->is_none() && !v->is_int() && !v->is_bool()) return Error("slice indices must be integers or None");
  }
  auto as_int = [](const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); };
  *step = step_v.is_none() ? 1 : as_int(step_v);
  if (*step == 0) return Error("slice step cannot be zero");
  auto adjust = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t i = as_int(v);
    if (i < 0) i += n;
    if (*step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  *start = adjust(start_v, *step > 0 ? 0 : n - 1);
  *stop = adjust(stop_v, *step > 0 ? n : -1);
  return Status::Ok();
}

}  // namespace

Value GetAttribute(const Value& object, std::string_view name) {
  if (const MethodInfo* m = FindMethod(object, name)) {
    const MethodInfo* info = m;
    Value self = object;
    return Value::Callable(
        [info, self](const std::vector<Value>& args, const Kwargs& kwargs) { return CallMethod(*info, self, args, kwargs); });
  }
  if (const Value* v = FindAttributeRef(object, name)) return *v;
  return Value::Undefined(Label(object) + " has no attribute '" + std::string(name) + "'");
}

const Value* FindAttributeRef(const Value& object, std::string_view name) {
  if (!object.is_dict() || FindMethod(object, name) != nullptr) return nullptr;
  return object.as_dict().Find(name);
}

Value GetItem(const Value& object, const Value& key) {
  if (object.is_dict()) {
    const Value* v = key.is_string() ? object.as_dict().Find(key.as_string()) : nullptr;
    if (v != nullptr) return *v;
    return Value::Undefined("'dict object' has no key " + key.Repr());
  }
  if (key.is_string()) return GetAttribute(object, key.as_string());
  if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_bool() ? int64_t{key.as_bool()} : key.as_int();
    if (object.is_list()) {
      int64_t n = static_cast<int64_t>(object.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return object.as_list()[static_cast<size_t>(i)];
    } else {
      // Walked from the nearer end, not listed: a string may be megabytes long.
      std::string_view text = object.as_string();
      std::optional<size_t> pos = Utf8Offset(text, i);
      if (pos && *pos < text.size()) return Value(Utf8CharAt(text, *pos));
    }
  }
  return Value::Undefined(Label(object) + " has no element " + key.Repr());
}

Result<Value> GetSlice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  if (!object.is_list() && !object.is_string()) return Error(std::string("cannot slice a ") + object.TypeName());
  int64_t n = static_cast<int64_t>(object.is_string() ? Utf8Length(object.as_string()) : object.as_list().size());
  int64_t b = 0, e = 0, s = 1;
  Status st = SliceBounds(n, start, stop, step, &b, &e, &s);
  if (!st.ok()) return st.error();
  if (object.is_string() && s == 1) {
    // The common s[i:j], walked instead of listing every character.
    std::string_view text = object.as_string();
    if (e <= b) return Value("");
    size_t from = *Utf8Offset(text, b);  // 0 <= b < e <= n: both in range
    size_t to = *Utf8Offset(text, e);
    return Value(text.substr(from, to - from));
  }
  std::vector<std::string_view> chars;
  if (object.is_string()) chars = Utf8Chars(object.as_string());
  std::string text;
  ValueList items;
  for (int64_t i = b; s > 0 ? i < e : i > e; i += s) {
    if (object.is_string()) {
      text.append(chars[static_cast<size_t>(i)]);
    } else {
      items.push_back(object.as_list()[static_cast<size_t>(i)]);
    }
  }
  if (object.is_string()) return Value(std::move(text));
  return object.is_tuple() ? Value::Tuple(std::move(items)) : Value::List(std::move(items));
}

Status Iterate(const Value& value, ValueList* storage, const ValueList** items) {
  *items = storage;
  switch (value.kind()) {
    case Value::Kind::kList: *items = &value.as_list(); return Status::Ok();
    case Value::Kind::kDict:
      storage->reserve(value.as_dict().size());
      for (const auto& [k, v] : value.as_dict().entries()) storage->emplace_back(k);
      return Status::Ok();
    case Value::Kind::kString:
      if (Utf8Length(value.as_string()) > kMaxListItems) {
        return Error("cannot iterate over a string of more than " + std::to_string(kMaxListItems) +
                     " characters, the most a template may build a list of");
      }
      for (std::string_view c : Utf8Chars(value.as_string())) storage->emplace_back(c);
      return Status::Ok();
    case Value::Kind::kUndefined:
      if (value.is_lenient_undefined()) return Status::Ok();
      return Error(value.undefined_hint());
    default: return Error(std::string("'") + value.TypeName() + "' object is not iterable");
  }
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view PyStrip(std::string_view s, std::string_view chars, bool left, bool right) {
  auto strip = [&](char c) {
    return chars.empty() ? IsPySpace(c) : chars.find(c) != std::string_view::npos;
  };
  while (left && !s.empty() && strip(s.front())) s.remove_prefix(1);
  while (right && !s.empty() && strip(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::string> PyReplace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  // Checked before each piece is appended, so the output never passes the bound.
  auto add = [&](std::string_view piece) {
    if (out.size() + piece.size() > kMaxStringBytes) return false;
    out.append(piece);
    return true;
  };
  if (from.empty()) {
    // Python inserts `to` around every character: 'ab'.replace('', '-') == '-a-b-'.
    int64_t done = 0;
    for (size_t pos = 0;;) {
      if (count < 0 || done < count) {
        if (!add(to)) return StringTooLarge();
        ++done;
      }
      if (pos == s.size()) break;
      std::string_view c = Utf8CharAt(s, pos);
      if (!add(c)) return StringTooLarge();
      pos += c.size();
    }
    return out;
  }
  size_t start = 0;
  for (int64_t done = 0; count < 0 || done < count; ++done) {
    size_t p = s.find(from, start);
    if (p == std::string_view::npos) break;
    if (!add(s.substr(start, p - start)) || !add(to)) return StringTooLarge();
    start = p + from.size();
  }
  if (!add(s.substr(start))) return StringTooLarge();
  return out;
}

}  // namespace derived::tmpl
