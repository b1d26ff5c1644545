// The syntax tree Parse() builds and the renderer walks. Nodes are immutable after parsing
// and owned by their parent through unique_ptr; every node records the line in its file
// (first_line already applied) for error messages. A node's `kind` says which struct it is.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/builtins.h"
#include "template/value.h"

namespace derived::tmpl::ast {

// ---- expressions -----------------------------------------------------------------------

enum class ExprKind {
  kLiteral, kName, kList, kDict, kGetAttr, kGetItem, kSlice, kCall, kFilter, kTest,
  kUnary, kBinary, kLogical, kCompare, kCondExpr,
};

struct Expr {
  Expr(ExprKind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  const ExprKind kind;
  const int line;
};
using ExprPtr = std::unique_ptr<Expr>;

struct Literal : Expr {
  Literal(int l, Value v) : Expr(ExprKind::kLiteral, l), value(std::move(v)) {}
  Value value;
};

struct Name : Expr {
  Name(int l, std::string n) : Expr(ExprKind::kName, l), name(std::move(n)) {}
  std::string name;
};

struct ListExpr : Expr {  // [a, b], or a tuple (a, b)
  ListExpr(int l, bool t) : Expr(ExprKind::kList, l), is_tuple(t) {}
  std::vector<ExprPtr> items;
  bool is_tuple;
};

struct DictExpr : Expr {
  explicit DictExpr(int l) : Expr(ExprKind::kDict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

struct GetAttr : Expr {  // a.b
  GetAttr(int l, ExprPtr o, std::string n) : Expr(ExprKind::kGetAttr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct GetItem : Expr {  // a[i]; also a.0
  GetItem(int l, ExprPtr o, ExprPtr k) : Expr(ExprKind::kGetItem, l), object(std::move(o)), key(std::move(k)) {}
  ExprPtr object;
  ExprPtr key;
};

struct Slice : Expr {  // a[start:stop:step]; omitted parts are null
  Slice(int l, ExprPtr o) : Expr(ExprKind::kSlice, l), object(std::move(o)) {}
  ExprPtr object, start, stop, step;
};

struct Args {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Call : Expr {
  Call(int l, ExprPtr c) : Expr(ExprKind::kCall, l), callee(std::move(c)) {}
  ExprPtr callee;
  Args args;
};

struct Filter : Expr {  // input | name(args)
  Filter(int l, ExprPtr in, const FilterInfo* f) : Expr(ExprKind::kFilter, l), input(std::move(in)), filter(f) {}
  ExprPtr input;
  const FilterInfo* filter;  // static, resolved at parse time
  Args args;
};

struct Test : Expr {  // operand is [not] name(args)
  Test(int l, ExprPtr o, const TestInfo* t) : Expr(ExprKind::kTest, l), operand(std::move(o)), test(t) {}
  ExprPtr operand;
  const TestInfo* test;  // static, resolved at parse time
  std::vector<ExprPtr> args;
  bool negated = false;
};

enum class UnaryOp { kNot, kNeg, kPos };
struct Unary : Expr {
  Unary(int l, UnaryOp o, ExprPtr e) : Expr(ExprKind::kUnary, l), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
struct Binary : Expr {
  Binary(int l, BinaryOp o, ExprPtr a, ExprPtr b)
      : Expr(ExprKind::kBinary, l), op(o), lhs(std::move(a)), rhs(std::move(b)) {}
  BinaryOp op;
  ExprPtr lhs, rhs;
};

struct Logical : Expr {  // `and` / `or`, short-circuiting and returning an operand as Python does
  Logical(int l, bool a, ExprPtr x, ExprPtr y)
      : Expr(ExprKind::kLogical, l), is_and(a), lhs(std::move(x)), rhs(std::move(y)) {}
  bool is_and;
  ExprPtr lhs, rhs;
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
struct Compare : Expr {  // chained like Python: a < b < c
  Compare(int l, ExprPtr f) : Expr(ExprKind::kCompare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct CondExpr : Expr {  // then if cond else otherwise
  CondExpr(int l, ExprPtr t, ExprPtr c, ExprPtr o)
      : Expr(ExprKind::kCondExpr, l), then(std::move(t)), cond(std::move(c)), otherwise(std::move(o)) {}
  ExprPtr then, cond;
  ExprPtr otherwise;  // may be null: the result is then a lenient undefined
};

// ---- statements ------------------------------------------------------------------------

enum class StmtKind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro };

struct Stmt {
  Stmt(StmtKind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  const StmtKind kind;
  const int line;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Text : Stmt {  // `column`: of its first byte in the line, for the source map
  Text(int l, int c, std::string t) : Stmt(StmtKind::kText, l), column(c), text(std::move(t)) {}
  int column;
  std::string text;
};

struct Output : Stmt {  // {{ expr }}; `column`: of the "{{"
  Output(int l, int c, ExprPtr e) : Stmt(StmtKind::kOutput, l), column(c), expr(std::move(e)) {}
  int column;
  ExprPtr expr;
};

struct If : Stmt {  // if / elif ... / else
  explicit If(int l) : Stmt(StmtKind::kIf, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body otherwise;
};

struct For : Stmt {
  explicit For(int l) : Stmt(StmtKind::kFor, l) {}
  std::vector<std::string> targets;  // `for k, v in ...` unpacks each item
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body otherwise;  // runs when there was no iteration
};

struct Set : Stmt {  // set a = expr; set a, b = expr
  explicit Set(int l) : Stmt(StmtKind::kSet, l) {}
  std::vector<std::string> targets;
  ExprPtr value;
};

struct SetBlock : Stmt {  // set a %}...{% endset
  SetBlock(int l, std::string t) : Stmt(StmtKind::kSetBlock, l), target(std::move(t)) {}
  std::string target;
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Macro : Stmt {
  Macro(int l, std::string n) : Stmt(StmtKind::kMacro, l), name(std::move(n)) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};

}  // namespace derived::tmpl::ast
