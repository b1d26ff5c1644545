#include "template/operators.h"

#include <cmath>
#include <string>

#include "template/limits.h"

namespace derived::tmpl {

namespace {

using ast::BinaryOp;
using ast::CompareOp;

const char* Symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kFloorDiv: return "//";
    case BinaryOp::kMod: return "%";
    case BinaryOp::kPow: return "**";
    case BinaryOp::kConcat: return "~";
  }
  return "?";
}

const char* Symbol(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    default: return "==";
  }
}

Error Unsupported(BinaryOp op, const Value& a, const Value& b) {
  return Error(std::string("unsupported operand type(s) for ") + Symbol(op) + ": '" + a.TypeName() + "' and '" +
               b.TypeName() + "'");
}

bool IsIntLike(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t IntOf(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }

Error Overflow() { return Error("integer overflow"); }
Error DivisionByZero() { return Error("division by zero"); }

Result<Value> Repeat(const Value& seq, int64_t n) {
  // An empty sequence repeated is empty at once (found by the fuzzer: [] * 2**62 looped).
  size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
  if (n <= 0 || unit == 0) return seq.is_string() ? Value("") : seq.is_tuple() ? Value::Tuple({}) : Value::List({});
  size_t most = seq.is_string() ? kMaxStringBytes : kMaxListItems;
  if (static_cast<uint64_t>(n) > most / unit) return seq.is_string() ? StringTooLarge() : ListTooLong();
  if (seq.is_string()) {
    std::string out;
    out.reserve(unit * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  ValueList out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return seq.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
}

Result<Value> IntPow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, base, &result)) return Overflow();
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
  }
  return Value(result);
}

Result<Value> Arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (IsIntLike(a) && IsIntLike(b)) {
    int64_t x = IntOf(a), y = IntOf(b), r = 0;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(x, y, &r)) return Overflow();
        return Value(r);
      case BinaryOp::kSub:
        if (__builtin_sub_overflow(x, y, &r)) return Overflow();
        return Value(r);
      case BinaryOp::kMul:
        if (__builtin_mul_overflow(x, y, &r)) return Overflow();
        return Value(r);
      case BinaryOp::kDiv:
        if (y == 0) return DivisionByZero();
        return Value(static_cast<double>(x) / static_cast<double>(y));
      case BinaryOp::kFloorDiv:
      case BinaryOp::kMod: {
        if (y == 0) return DivisionByZero();
        if (x == INT64_MIN && y == -1) return op == BinaryOp::kMod ? Value(int64_t{0}) : Result<Value>(Overflow());
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {  // round toward -inf, as Python does
          --q;
          m += y;
        }
        return Value(op == BinaryOp::kFloorDiv ? q : m);
      }
      case BinaryOp::kPow:
        if (y < 0) {
          if (x == 0) return Error("0 cannot be raised to a negative power");
          return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        return IntPow(x, y);
      case BinaryOp::kConcat: break;
    }
  }
  double x = a.ToDouble(), y = b.ToDouble();
  switch (op) {
    case BinaryOp::kAdd: return Value(x + y);
    case BinaryOp::kSub: return Value(x - y);
    case BinaryOp::kMul: return Value(x * y);
    case BinaryOp::kDiv:
      if (y == 0) return DivisionByZero();
      return Value(x / y);
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (y == 0) return DivisionByZero();
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      if (op == BinaryOp::kMod) return Value(m);
      return Value(std::floor((x - m) / y + 0.5));  // (x - m) / y is integral up to rounding
    }
    case BinaryOp::kPow:
      if (x == 0 && y < 0) return Error("0.0 cannot be raised to a negative power");
      return Value(std::pow(x, y));
    case BinaryOp::kConcat: break;
  }
  return Unsupported(op, a, b);
}

// Python's ordering: -1, 0 or 1, or an error for types that do not order.
Result<int> Order(const Value& a, const Value& b, CompareOp op) {
  if (a.is_number() && b.is_number()) {
    if (IsIntLike(a) && IsIntLike(b)) {
      int64_t x = IntOf(a), y = IntOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    double x = a.ToDouble(), y = b.ToDouble();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // bytewise UTF-8 order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const ValueList& x = a.as_list();
    const ValueList& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i] == y[i]) continue;
      return Order(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return Error(std::string("'") + Symbol(op) + "' not supported between instances of '" + a.TypeName() + "' and '" +
               b.TypeName() + "'");
}

Result<bool> Contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      return Error(std::string("'in <string>' requires string as left operand, not ") + item.TypeName());
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list()) {
      if (v == item) return true;
    }
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().Find(item.as_string()) != nullptr;
  return Error(std::string("argument of type '") + container.TypeName() + "' is not iterable");
}

}  // namespace

Result<Value> ApplyBinary(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::kConcat) {
    std::string s;
    if (!a.AppendStr(&s, kMaxStringBytes) || !b.AppendStr(&s, kMaxStringBytes)) return StringTooLarge();
    return Value(std::move(s));
  }
  if (a.is_number() && b.is_number()) return Arithmetic(op, a, b);
  if (op == BinaryOp::kAdd) {
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > kMaxStringBytes) return StringTooLarge();
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      if (a.as_list().size() + b.as_list().size() > kMaxListItems) return ListTooLong();
      ValueList out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return a.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
    }
  }
  if (op == BinaryOp::kMul) {
    if ((a.is_string() || a.is_list()) && IsIntLike(b)) return Repeat(a, IntOf(b));
    if (IsIntLike(a) && (b.is_string() || b.is_list())) return Repeat(b, IntOf(a));
  }
  if (op == BinaryOp::kMod && a.is_string()) {
    return Error("printf-style string formatting with % is not supported; join strings with ~");
  }
  return Unsupported(op, a, b);
}

Result<Value> ApplyUnary(ast::UnaryOp op, const Value& a) {
  if (op == ast::UnaryOp::kNeg) {
    if (IsIntLike(a)) {
      int64_t x = IntOf(a);
      if (x == INT64_MIN) return Overflow();
      return Value(-x);
    }
    if (a.is_double()) return Value(-a.as_double());
    return Error(std::string("bad operand type for unary -: '") + a.TypeName() + "'");
  }
  if (IsIntLike(a)) return Value(IntOf(a));
  if (a.is_double()) return a;
  return Error(std::string("bad operand type for unary +: '") + a.TypeName() + "'");
}

Result<bool> ApplyCompare(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq: return a == b;
    case CompareOp::kNe: return !(a == b);
    case CompareOp::kIn: return Contains(b, a);
    case CompareOp::kNotIn: {
      Result<bool> r = Contains(b, a);
      if (!r.ok()) return r;
      return !*r;
    }
    default: break;
  }
  Result<int> order = Order(a, b, op);
  if (!order.ok()) return order.error();
  int c = *order;
  switch (op) {
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
    default: return false;
  }
}

}  // namespace derived::tmpl
