// Recursive-descent parser from tokens (lexer.h) to the syntax tree (ast.h), following
// Jinja2's grammar and operator precedence. Internal to the module: Parse() in template.h
// is the API. Statements are parsed in parser.cc, expressions in parse_expression.cc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "template/ast.h"
#include "template/lexer.h"

namespace derived::tmpl {

class Parser {
 public:
  // REQUIRES: `tokens` ends with a kEnd token. Both arguments must outlive the Parser.
  Parser(const std::vector<Token>& tokens, const std::string& file) : tokens_(tokens), file_(file) {}

  // The whole template. Throws TemplateError on a syntax error.
  ast::Body ParseTemplate();

  // One expression followed by the end of the token stream; for tests.
  ast::ExprPtr ParseStandaloneExpression();

 private:
  // A block whose end tag has not been seen yet, for "expected 'endif'" messages.
  struct OpenBlock {
    std::string_view tag;  // "if", "for", ...
    int line;
    std::vector<std::string_view> stops;  // tags that end this body: "elif", "else", "endif"
  };

  // ---- statements (parser.cc)
  // Parses until the end of the template or a {% tag %} named in open->stops, leaving that
  // tag unconsumed. `open` is null at the top level.
  ast::Body ParseBody(const OpenBlock* open);
  ast::StmtPtr ParseStatement(const OpenBlock* open);
  ast::StmtPtr ParseIf(int line);
  ast::StmtPtr ParseFor(int line);
  ast::StmtPtr ParseSet(int line);
  ast::StmtPtr ParseMacro(int line);
  // Consumes "{% name" where name is one of the stops of the body just parsed.
  std::string_view TakeStopTag();
  void ExpectBlockEnd();

  // ---- expressions (parse_expression.cc), from lowest to highest precedence
  ast::ExprPtr ParseExpression(bool with_condexpr = true);
  // `a, b` without brackets, as in `set x = 1, 2`, `{{ 1, 2 }}` and `for x in a, b`.
  ast::ExprPtr ParseTupleOrExpression(bool with_condexpr = true);
  ast::ExprPtr ParseOr();
  ast::ExprPtr ParseAnd();
  ast::ExprPtr ParseNot();
  ast::ExprPtr ParseCompare();
  ast::ExprPtr ParseAddSub();
  ast::ExprPtr ParseConcat();
  ast::ExprPtr ParseMulDiv();
  ast::ExprPtr ParsePow();
  ast::ExprPtr ParseUnary(bool with_filter);
  ast::ExprPtr ParsePrimary();
  ast::ExprPtr ParsePostfix(ast::ExprPtr node);
  ast::ExprPtr ParseFilterExpr(ast::ExprPtr node);
  ast::ExprPtr ParseSubscript(ast::ExprPtr node, int line);
  ast::ExprPtr ParseParenthesized(int line);
  ast::Args ParseCallArgs();  // after '(' through ')'

  // ---- tokens
  const Token& Peek(size_t ahead = 0) const;
  const Token& Next();
  bool IsName(std::string_view name, size_t ahead = 0) const;
  bool IsOp(std::string_view op, size_t ahead = 0) const;
  bool SkipName(std::string_view name);
  bool SkipOp(std::string_view op);
  void ExpectOp(std::string_view op);
  std::string ExpectName(std::string_view what);
  [[noreturn]] void Error(const Token& at, std::string message) const;
  [[noreturn]] void Unexpected(const Token& at, std::string_view expected) const;

  const std::vector<Token>& tokens_;
  const std::string& file_;
  size_t pos_ = 0;
  // Bounded so hostile input cannot overflow the stack: nesting of blocks, nesting of
  // expressions, and the links of chains like a + b + c above the current expression.
  int block_depth_ = 0;
  int depth_ = 0;
  int chain_links_ = 0;
};

}  // namespace derived::tmpl
