#include "template/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "template/limits.h"

namespace derived::tmpl {

Value::Value(std::string s) : kind_(Kind::kString), ptr_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::Undefined(std::string hint) {
  Value v(Kind::kUndefined);
  v.b_ = false;
  v.ptr_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::LenientUndefined(std::string hint) {
  Value v = Undefined(std::move(hint));
  v.b_ = true;
  return v;
}

Value Value::List(ValueList items) {
  Value v(Kind::kList);
  v.b_ = false;
  v.ptr_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::Tuple(ValueList items) {
  Value v = List(std::move(items));
  v.b_ = true;
  return v;
}

Value Value::Dict(std::vector<std::pair<std::string, Value>> entries) {
  Value v(Kind::kDict);
  v.ptr_ = std::make_shared<const ValueDict>(std::move(entries));
  return v;
}

Value Value::Callable(Function fn) {
  Value v(Kind::kCallable);
  v.ptr_ = std::make_shared<const Function>(std::move(fn));
  return v;
}

double Value::ToDouble() const {
  switch (kind_) {
    case Kind::kBool: return b_ ? 1.0 : 0.0;
    case Kind::kInt: return static_cast<double>(i_);
    case Kind::kDouble: return d_;
    default: return 0.0;
  }
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return b_;
    case Kind::kInt: return i_ != 0;
    case Kind::kDouble: return d_ != 0.0;
    case Kind::kString: return !as_string().empty();
    case Kind::kList: return !as_list().empty();
    case Kind::kDict: return as_dict().size() != 0;
    case Kind::kCallable: return true;
  }
  return false;
}

Result<std::string> Value::ToStr() const {
  if (is_string()) return as_string();  // held, so within the bound already
  std::string out;
  if (!AppendStr(&out, kMaxStringBytes)) return StringTooLarge();
  return out;
}

std::string Value::Str() const {
  if (is_string()) return as_string();
  std::string out;
  (void)AppendStr(&out, kMaxStringBytes);  // a prefix past the bound: Str is for messages
  return out;
}

bool Value::AppendStr(std::string* out, size_t limit) const {
  switch (kind_) {
    case Kind::kUndefined: return true;
    case Kind::kString:
      if (out->size() + as_string().size() > limit) return false;
      out->append(as_string());
      return true;
    default: return AppendRepr(out, limit);
  }
}

std::string Value::Repr() const {
  std::string out;
  (void)AppendRepr(&out, kMaxStringBytes);  // a prefix past the bound: Repr is for messages
  return out;
}

namespace {

void AppendInt(int64_t i, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), i);
  out->append(buf, end);
}

// Python picks the quote that avoids escaping and escapes control characters.
void AppendStringRepr(const std::string& s, std::string* out) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  out->push_back(quote);
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back(quote);
}

}  // namespace

void AppendDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("nan");
    return;
  }
  if (std::isinf(d)) {
    out->append(d < 0 ? "-inf" : "inf");
    return;
  }
  // Shortest round-trip digits, then laid out by Python's float_repr rules: positional
  // when the decimal point falls within (-4, 16], scientific otherwise.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  if (sci.front() == '-') {
    out->push_back('-');
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int decpt = exponent + 1;
  int ndigits = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out->push_back(digits[0]);
    if (ndigits > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out->append(exp_buf);
  } else if (decpt <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-decpt), '0');
    out->append(digits);
  } else if (decpt >= ndigits) {
    out->append(digits);
    out->append(static_cast<size_t>(decpt - ndigits), '0');
    out->append(".0");
  } else {
    out->append(digits, 0, static_cast<size_t>(decpt));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(decpt));
  }
}

bool Value::AppendRepr(std::string* out, size_t limit) const {
  // Checked before each element: a string's repr is at most four times its size, so the
  // bound is passed by at most that much before appending stops.
  auto within = [&](size_t more) { return out->size() + more <= limit; };
  switch (kind_) {
    case Kind::kUndefined: out->append("Undefined"); break;
    case Kind::kNone: out->append("None"); break;
    case Kind::kBool: out->append(b_ ? "True" : "False"); break;
    case Kind::kInt: AppendInt(i_, out); break;
    case Kind::kDouble: AppendDouble(d_, out); break;
    case Kind::kString:
      if (!within(as_string().size() + 2)) return false;
      AppendStringRepr(as_string(), out);
      break;
    case Kind::kList: {
      out->push_back(is_tuple() ? '(' : '[');
      bool first = true;
      for (const Value& v : as_list()) {
        if (!first) out->append(", ");
        first = false;
        if (!within(0) || !v.AppendRepr(out, limit)) return false;
      }
      if (is_tuple() && as_list().size() == 1) out->push_back(',');
      out->push_back(is_tuple() ? ')' : ']');
      break;
    }
    case Kind::kDict: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : as_dict().entries()) {
        if (!first) out->append(", ");
        first = false;
        if (!within(k.size() + 2)) return false;
        AppendStringRepr(k, out);
        out->append(": ");
        if (!v.AppendRepr(out, limit)) return false;
      }
      out->push_back('}');
      break;
    }
    case Kind::kCallable: out->append("<function>"); break;
  }
  return within(0);
}

const char* Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kDouble: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return is_tuple() ? "tuple" : "list";
    case Kind::kDict: return "dict";
    case Kind::kCallable: return "function";
  }
  return "?";
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.ToDouble() == b.ToDouble();
    int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kList: return a.is_tuple() == b.is_tuple() && a.as_list() == b.as_list();
    case Value::Kind::kDict: {
      const ValueDict& x = a.as_dict();
      const ValueDict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.Find(k);
        if (other == nullptr || !(*other == v)) return false;
      }
      return true;
    }
    case Value::Kind::kCallable: return a.ptr_ == b.ptr_;
    default: return false;
  }
}

namespace {
constexpr size_t kIndexThreshold = 8;
}  // namespace

ValueDict::ValueDict(std::vector<Entry> entries) {
  entries_.reserve(entries.size());
  std::unordered_map<std::string, size_t> seen;
  bool small = entries.size() <= kIndexThreshold;
  for (auto& e : entries) {
    if (small) {
      bool replaced = false;
      for (auto& existing : entries_) {
        if (existing.first == e.first) {
          existing.second = std::move(e.second);
          replaced = true;
          break;
        }
      }
      if (!replaced) entries_.push_back(std::move(e));
    } else {
      auto [it, inserted] = seen.emplace(e.first, entries_.size());
      if (inserted) {
        entries_.push_back(std::move(e));
      } else {
        entries_[it->second].second = std::move(e.second);
      }
    }
  }
  if (entries_.size() > kIndexThreshold) {
    // entries_ is never resized again, so views of its keys stay valid.
    index_.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  }
}

const Value* ValueDict::Find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  for (const auto& e : entries_) {
    if (e.first == key) return &e.second;
  }
  return nullptr;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    // Count every byte that is not a continuation byte (10xxxxxx).
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string_view Utf8CharAt(std::string_view s, size_t pos) {
  size_t end = pos + 1;
  while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
  return s.substr(pos, end - pos);
}

std::optional<size_t> Utf8Offset(std::string_view s, int64_t index) {
  auto lead = [&](size_t i) { return (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80; };
  if (index >= 0) {
    int64_t seen = 0;
    for (size_t pos = 0; pos < s.size(); ++pos) {
      if (lead(pos) && seen++ == index) return pos;
    }
    return seen == index ? std::optional<size_t>(s.size()) : std::nullopt;
  }
  for (size_t pos = s.size(); pos > 0;) {
    --pos;
    if (lead(pos) && ++index == 0) return pos;
  }
  return std::nullopt;
}

std::vector<std::string_view> Utf8Chars(std::string_view s) {
  std::vector<std::string_view> out;
  out.reserve(s.size());
  size_t start = 0;
  for (size_t i = 1; i <= s.size(); ++i) {
    if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      out.push_back(s.substr(start, i - start));
      start = i;
    }
  }
  return out;
}

}  // namespace derived::tmpl
