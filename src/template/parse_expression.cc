// Expressions, with Jinja2's precedence from loosest to tightest:
//   a if c else b  <  or  <  and  <  not  <  comparisons, in, not in  <  + -  <  ~
//   <  * / // %  <  **  <  unary - +  <  postfix . [] ()  then filters | and tests `is`.
// (As in Jinja, ~ binds tighter than + and ** is left-associative: 2**3**2 == 64.)
#include <algorithm>

#include "template/error.h"
#include "template/parser.h"
#include "util/strings.h"

namespace derived::tmpl {

namespace {

constexpr int kMaxDepth = 200;
constexpr int kMaxChainLinks = 500;

// Counts nesting on the way down so `((((...))))` cannot overflow the parser's stack.
class DepthGuard {
 public:
  DepthGuard(int* depth, const std::string& file, int line) : depth_(depth) {
    if (++*depth_ > kMaxDepth) Fail(file, line, "expression nested too deeply");
  }
  ~DepthGuard() { --*depth_; }

 private:
  int* depth_;
};

// A chain such as a + b + c is parsed in a loop but builds a tree as deep as it is long,
// and evaluating or destroying that tree recurses; so the links count against a limit too.
class ChainGuard {
 public:
  ChainGuard(int* links, const std::string& file) : links_(links), file_(file) {}
  ~ChainGuard() { *links_ -= added_; }
  void Link(int line) {
    ++added_;
    if (++*links_ > kMaxChainLinks) Fail(file_, line, "expression nested too deeply");
  }

 private:
  int* links_;
  const std::string& file_;
  int added_ = 0;
};

// Jinja's built-in filters and tests that this engine leaves out: naming them says "not
// supported" rather than "unknown", so nobody hunts for a typo.
bool IsUnsupportedJinjaFilter(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "attr",        "batch",  "center",     "dictsort", "e",          "escape",    "filesizeformat",
      "forceescape", "format", "groupby",    "indent",   "items",      "map",       "max",
      "min",         "pprint", "random",     "reject",   "rejectattr", "reverse",   "round",
      "safe",        "select", "selectattr", "slice",    "sort",       "striptags", "sum",
      "title",       "tojson", "truncate",   "unique",   "urlencode",  "urlize",    "wordcount",
      "wordwrap",    "xmlattr"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool IsUnsupportedJinjaTest(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "eq", "equalto",  "escaped", "filter", "ge", "greaterthan", "gt",   "in",
      "le", "lessthan", "lower",   "lt",     "ne", "sameas",      "test", "upper"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

}  // namespace

ast::ExprPtr Parser::ParseStandaloneExpression() {
  ast::ExprPtr e = ParseExpression();
  if (Peek().kind != TokenKind::kEnd) Unexpected(Peek(), "end of expression");
  return e;
}

ast::ExprPtr Parser::ParseExpression(bool with_condexpr) {
  DepthGuard guard(&depth_, file_, Peek().line);
  ast::ExprPtr node = ParseOr();
  if (!with_condexpr) return node;
  ChainGuard chain(&chain_links_, file_);
  while (IsName("if")) {
    int line = Next().line;
    chain.Link(line);
    ast::ExprPtr cond = ParseOr();
    ast::ExprPtr otherwise;
    if (SkipName("else")) otherwise = ParseExpression();
    node = std::make_unique<ast::CondExpr>(line, std::move(node), std::move(cond), std::move(otherwise));
  }
  return node;
}

ast::ExprPtr Parser::ParseTupleOrExpression(bool with_condexpr) {
  int line = Peek().line;
  ast::ExprPtr first = ParseExpression(with_condexpr);
  if (!IsOp(",")) return first;
  auto tuple = std::make_unique<ast::ListExpr>(line, /*is_tuple=*/true);
  tuple->items.push_back(std::move(first));
  while (SkipOp(",")) {
    if (Peek().kind == TokenKind::kBlockEnd || Peek().kind == TokenKind::kVariableEnd) break;  // `set t = 1,`
    tuple->items.push_back(ParseExpression(with_condexpr));
  }
  return tuple;
}

ast::ExprPtr Parser::ParseOr() {
  ast::ExprPtr node = ParseAnd();
  ChainGuard chain(&chain_links_, file_);
  while (IsName("or")) {
    int line = Next().line;
    chain.Link(line);
    node = std::make_unique<ast::Logical>(line, /*is_and=*/false, std::move(node), ParseAnd());
  }
  return node;
}

ast::ExprPtr Parser::ParseAnd() {
  ast::ExprPtr node = ParseNot();
  ChainGuard chain(&chain_links_, file_);
  while (IsName("and")) {
    int line = Next().line;
    chain.Link(line);
    node = std::make_unique<ast::Logical>(line, /*is_and=*/true, std::move(node), ParseNot());
  }
  return node;
}

ast::ExprPtr Parser::ParseNot() {
  if (IsName("not")) {
    int line = Next().line;
    DepthGuard guard(&depth_, file_, line);
    return std::make_unique<ast::Unary>(line, ast::UnaryOp::kNot, ParseNot());
  }
  return ParseCompare();
}

ast::ExprPtr Parser::ParseCompare() {
  int line = Peek().line;
  ast::ExprPtr first = ParseAddSub();
  std::unique_ptr<ast::Compare> cmp;
  for (;;) {
    ast::CompareOp op;
    const Token& t = Peek();
    if (t.kind == TokenKind::kOperator && t.text == "==") {
      op = ast::CompareOp::kEq;
    } else if (t.kind == TokenKind::kOperator && t.text == "!=") {
      op = ast::CompareOp::kNe;
    } else if (t.kind == TokenKind::kOperator && t.text == "<") {
      op = ast::CompareOp::kLt;
    } else if (t.kind == TokenKind::kOperator && t.text == "<=") {
      op = ast::CompareOp::kLe;
    } else if (t.kind == TokenKind::kOperator && t.text == ">") {
      op = ast::CompareOp::kGt;
    } else if (t.kind == TokenKind::kOperator && t.text == ">=") {
      op = ast::CompareOp::kGe;
    } else if (IsName("in")) {
      op = ast::CompareOp::kIn;
    } else if (IsName("not") && IsName("in", 1)) {
      Next();
      op = ast::CompareOp::kNotIn;
    } else {
      break;
    }
    Next();
    if (!cmp) cmp = std::make_unique<ast::Compare>(line, std::move(first));
    cmp->rest.emplace_back(op, ParseAddSub());
  }
  if (cmp) return cmp;
  return first;
}

ast::ExprPtr Parser::ParseAddSub() {
  ast::ExprPtr node = ParseConcat();
  ChainGuard chain(&chain_links_, file_);
  while (IsOp("+") || IsOp("-")) {
    const Token& t = Next();
    chain.Link(t.line);
    ast::BinaryOp op = t.text == "+" ? ast::BinaryOp::kAdd : ast::BinaryOp::kSub;
    node = std::make_unique<ast::Binary>(t.line, op, std::move(node), ParseConcat());
  }
  return node;
}

ast::ExprPtr Parser::ParseConcat() {
  ast::ExprPtr node = ParseMulDiv();
  ChainGuard chain(&chain_links_, file_);
  while (IsOp("~")) {
    int line = Next().line;
    chain.Link(line);
    node = std::make_unique<ast::Binary>(line, ast::BinaryOp::kConcat, std::move(node), ParseMulDiv());
  }
  return node;
}

ast::ExprPtr Parser::ParseMulDiv() {
  ast::ExprPtr node = ParsePow();
  ChainGuard chain(&chain_links_, file_);
  for (;;) {
    ast::BinaryOp op;
    if (IsOp("*")) {
      op = ast::BinaryOp::kMul;
    } else if (IsOp("/")) {
      op = ast::BinaryOp::kDiv;
    } else if (IsOp("//")) {
      op = ast::BinaryOp::kFloorDiv;
    } else if (IsOp("%")) {
      op = ast::BinaryOp::kMod;
    } else {
      return node;
    }
    int line = Next().line;
    chain.Link(line);
    node = std::make_unique<ast::Binary>(line, op, std::move(node), ParsePow());
  }
}

ast::ExprPtr Parser::ParsePow() {
  ast::ExprPtr node = ParseUnary(/*with_filter=*/true);
  ChainGuard chain(&chain_links_, file_);
  while (IsOp("**")) {
    int line = Next().line;
    chain.Link(line);
    node = std::make_unique<ast::Binary>(line, ast::BinaryOp::kPow, std::move(node), ParseUnary(true));
  }
  return node;
}

ast::ExprPtr Parser::ParseUnary(bool with_filter) {
  DepthGuard guard(&depth_, file_, Peek().line);
  ast::ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    const Token& t = Next();
    ast::UnaryOp op = t.text == "-" ? ast::UnaryOp::kNeg : ast::UnaryOp::kPos;
    // Jinja applies a filter after the sign: -x|abs is abs(-x).
    node = std::make_unique<ast::Unary>(t.line, op, ParseUnary(/*with_filter=*/false));
  } else {
    node = ParsePrimary();
  }
  node = ParsePostfix(std::move(node));
  if (with_filter) node = ParseFilterExpr(std::move(node));
  return node;
}

ast::ExprPtr Parser::ParsePrimary() {
  const Token& t = Peek();
  switch (t.kind) {
    case TokenKind::kName: {
      Next();
      std::string_view n = t.text;
      if (n == "true" || n == "True") return std::make_unique<ast::Literal>(t.line, Value(true));
      if (n == "false" || n == "False") return std::make_unique<ast::Literal>(t.line, Value(false));
      if (n == "none" || n == "None") return std::make_unique<ast::Literal>(t.line, Value::None());
      return std::make_unique<ast::Name>(t.line, std::string(n));
    }
    case TokenKind::kString: {
      // Adjacent literals concatenate, as in Python: 'a' 'b' == 'ab'.
      std::string s = Next().value;
      while (Peek().kind == TokenKind::kString) s += Next().value;
      return std::make_unique<ast::Literal>(t.line, Value(std::move(s)));
    }
    case TokenKind::kInteger:
      Next();
      return std::make_unique<ast::Literal>(t.line, Value(t.int_value));
    case TokenKind::kFloat:
      Next();
      return std::make_unique<ast::Literal>(t.line, Value(t.float_value));
    case TokenKind::kOperator:
      if (t.text == "(") {
        Next();
        return ParseParenthesized(t.line);
      }
      if (t.text == "[") {
        Next();
        auto list = std::make_unique<ast::ListExpr>(t.line, /*is_tuple=*/false);
        while (!IsOp("]")) {
          list->items.push_back(ParseExpression());
          if (!SkipOp(",")) break;
        }
        ExpectOp("]");
        return list;
      }
      if (t.text == "{") {
        Next();
        auto dict = std::make_unique<ast::DictExpr>(t.line);
        while (!IsOp("}")) {
          ast::ExprPtr key = ParseExpression();
          ExpectOp(":");
          dict->entries.emplace_back(std::move(key), ParseExpression());
          if (!SkipOp(",")) break;
        }
        ExpectOp("}");
        return dict;
      }
      break;
    default:
      break;
  }
  Unexpected(t, "an expression");
}

ast::ExprPtr Parser::ParseParenthesized(int line) {
  if (SkipOp(")")) return std::make_unique<ast::ListExpr>(line, /*is_tuple=*/true);
  ast::ExprPtr first = ParseExpression();
  if (SkipOp(")")) return first;
  auto tuple = std::make_unique<ast::ListExpr>(line, /*is_tuple=*/true);
  tuple->items.push_back(std::move(first));
  while (SkipOp(",")) {
    if (IsOp(")")) break;
    tuple->items.push_back(ParseExpression());
  }
  ExpectOp(")");
  return tuple;
}

ast::ExprPtr Parser::ParsePostfix(ast::ExprPtr node) {
  ChainGuard chain(&chain_links_, file_);
  for (;;) {
    const Token& t = Peek();
    if (IsOp(".") || IsOp("[") || IsOp("(")) chain.Link(t.line);
    if (IsOp(".")) {
      Next();
      const Token& attr = Next();
      if (attr.kind == TokenKind::kName) {
        node = std::make_unique<ast::GetAttr>(t.line, std::move(node), std::string(attr.text));
      } else if (attr.kind == TokenKind::kInteger) {  // xs.0 is xs[0]
        auto key = std::make_unique<ast::Literal>(attr.line, Value(attr.int_value));
        node = std::make_unique<ast::GetItem>(t.line, std::move(node), std::move(key));
      } else {
        Unexpected(attr, "an attribute name");
      }
    } else if (IsOp("[")) {
      Next();
      node = ParseSubscript(std::move(node), t.line);
    } else if (IsOp("(")) {
      Next();
      auto call = std::make_unique<ast::Call>(t.line, std::move(node));
      call->args = ParseCallArgs();
      node = std::move(call);
    } else {
      return node;
    }
  }
}

ast::ExprPtr Parser::ParseSubscript(ast::ExprPtr node, int line) {
  ast::ExprPtr start;
  if (!IsOp(":")) start = ParseExpression();
  if (!SkipOp(":")) {
    ExpectOp("]");
    return std::make_unique<ast::GetItem>(line, std::move(node), std::move(start));
  }
  auto slice = std::make_unique<ast::Slice>(line, std::move(node));
  slice->start = std::move(start);
  if (!IsOp("]") && !IsOp(":")) slice->stop = ParseExpression();
  if (SkipOp(":") && !IsOp("]")) slice->step = ParseExpression();
  ExpectOp("]");
  return slice;
}

ast::Args Parser::ParseCallArgs() {
  ast::Args args;
  while (!IsOp(")")) {
    const Token& t = Peek();
    if (IsOp("*") || IsOp("**")) Error(t, "*args and **kwargs in calls are not supported");
    if (t.kind == TokenKind::kName && IsOp("=", 1)) {
      std::string name(Next().text);
      Next();  // =
      for (const auto& [existing, unused] : args.keyword) {
        if (existing == name) Error(t, "keyword argument '" + name + "' repeated");
      }
      args.keyword.emplace_back(std::move(name), ParseExpression());
    } else {
      if (!args.keyword.empty()) Error(t, "positional argument follows keyword argument");
      args.positional.push_back(ParseExpression());
    }
    if (!SkipOp(",")) break;
  }
  ExpectOp(")");
  return args;
}

ast::ExprPtr Parser::ParseFilterExpr(ast::ExprPtr node) {
  ChainGuard chain(&chain_links_, file_);
  for (;;) {
    const Token& t = Peek();
    if (IsOp("|") || IsName("is") || IsOp("(")) chain.Link(t.line);
    if (IsOp("|")) {
      Next();
      const Token& name_token = Peek();
      std::string name = ExpectName("a filter name");
      const FilterInfo* info = FindFilter(name);
      if (info == nullptr) {
        if (IsUnsupportedJinjaFilter(name)) Error(name_token, "the '" + name + "' filter is not supported");
        Error(name_token, "unknown filter '" + name + "'" + DidYouMean(name, FilterNames()));
      }
      auto filter = std::make_unique<ast::Filter>(name_token.line, std::move(node), info);
      if (SkipOp("(")) filter->args = ParseCallArgs();
      node = std::move(filter);
    } else if (IsName("is")) {
      Next();
      bool negated = SkipName("not");
      const Token& name_token = Peek();
      std::string name = ExpectName("a test name");
      const TestInfo* info = FindTest(name);
      if (info == nullptr) {
        if (IsUnsupportedJinjaTest(name)) Error(name_token, "the '" + name + "' test is not supported");
        Error(name_token, "unknown test '" + name + "'" + DidYouMean(name, TestNames()));
      }
      auto test = std::make_unique<ast::Test>(name_token.line, std::move(node), info);
      test->negated = negated;
      const Token& next = Peek();
      if (SkipOp("(")) {
        ast::Args args = ParseCallArgs();
        if (!args.keyword.empty()) Error(name_token, "tests take no keyword arguments");
        test->args = std::move(args.positional);
      } else if ((next.kind == TokenKind::kName || next.kind == TokenKind::kString || next.kind == TokenKind::kInteger ||
                  next.kind == TokenKind::kFloat || IsOp("[") || IsOp("{")) &&
                 !IsName("else") && !IsName("or") && !IsName("and") && !IsName("if") && !IsName("in") &&
                 !IsName("not") && !IsName("is")) {
        // Jinja allows one argument without parentheses: `x is divisibleby 3`.
        test->args.push_back(ParsePostfix(ParsePrimary()));
      }
      node = std::move(test);
    } else if (IsOp("(")) {
      Next();
      auto call = std::make_unique<ast::Call>(t.line, std::move(node));
      call->args = ParseCallArgs();
      node = std::move(call);
    } else {
      return node;
    }
  }
}

}  // namespace derived::tmpl
