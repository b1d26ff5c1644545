// Statements: text, {{ output }}, and the {% if %}, {% for %}, {% set %} and {% macro %} tags.
#include "template/parser.h"

#include <algorithm>

#include "template/error.h"
#include "util/strings.h"

namespace derived::tmpl {

namespace {

constexpr int kMaxDepth = 200;

const std::vector<std::string>& SupportedTags() {
  static const std::vector<std::string> tags = {"if", "elif", "else", "endif", "for", "endfor",
                                                "set", "endset", "macro", "endmacro", "raw", "endraw"};
  return tags;
}

bool IsUnsupportedJinjaTag(std::string_view tag) {
  static constexpr std::string_view kTags[] = {"include", "import", "from", "extends", "block", "call", "filter",
                                               "with", "do", "break", "continue", "autoescape", "trans"};
  return std::find(std::begin(kTags), std::end(kTags), tag) != std::end(kTags);
}

// The tag that finally closes a block: "endif" for "if".
std::string EndTag(std::string_view tag) { return "end" + std::string(tag); }

std::string OpenedOn(std::string_view tag, int line) {
  return "(the '" + std::string(tag) + "' opened on line " + std::to_string(line) + ")";
}

}  // namespace

ast::Body Parser::ParseTemplate() { return ParseBody(nullptr); }

ast::Body Parser::ParseBody(const OpenBlock* open) {
  ast::Body body;
  for (;;) {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kText:
        body.push_back(std::make_unique<ast::Text>(t.line, t.column, std::string(t.text)));
        Next();
        break;
      case TokenKind::kVariableBegin: {
        Next();
        ast::ExprPtr expr = ParseTupleOrExpression();
        if (Peek().kind != TokenKind::kVariableEnd) Unexpected(Peek(), "end of print statement '}}'");
        Next();
        body.push_back(std::make_unique<ast::Output>(t.line, t.column, std::move(expr)));
        break;
      }
      case TokenKind::kBlockBegin: {
        const Token& name = Peek(1);
        if (open != nullptr && name.kind == TokenKind::kName &&
            std::find(open->stops.begin(), open->stops.end(), name.text) != open->stops.end()) {
          return body;
        }
        Next();
        body.push_back(ParseStatement(open));
        break;
      }
      case TokenKind::kEnd:
        if (open != nullptr) {
          Error(t, "unexpected end of template, expected '" + EndTag(open->tag) + "' " + OpenedOn(open->tag, open->line));
        }
        return body;
      default:
        Unexpected(t, "template text or a tag");
    }
  }
}

ast::StmtPtr Parser::ParseStatement(const OpenBlock* open) {
  const Token& t = Next();
  if (t.kind != TokenKind::kName) Unexpected(t, "a tag name");
  if (++block_depth_ > kMaxDepth) Error(t, "blocks nested too deeply");
  ast::StmtPtr stmt;
  std::string_view tag = t.text;
  if (tag == "if") {
    stmt = ParseIf(t.line);
  } else if (tag == "for") {
    stmt = ParseFor(t.line);
  } else if (tag == "set") {
    stmt = ParseSet(t.line);
  } else if (tag == "macro") {
    stmt = ParseMacro(t.line);
  } else if (std::find(SupportedTags().begin(), SupportedTags().end(), tag) != SupportedTags().end()) {
    // A closing or continuing tag that does not belong here.
    if (open != nullptr) {
      Error(t, "unexpected '" + std::string(tag) + "', expected '" + EndTag(open->tag) + "' " +
                   OpenedOn(open->tag, open->line));
    }
    Error(t, "unexpected '" + std::string(tag) + "': no block is open");
  } else if (IsUnsupportedJinjaTag(tag)) {
    Error(t, "the '" + std::string(tag) + "' tag is not supported");
  } else {
    Error(t, "unknown tag '" + std::string(tag) + "'" + DidYouMean(tag, SupportedTags()));
  }
  --block_depth_;
  return stmt;
}

std::string_view Parser::TakeStopTag() {
  Next();  // {%
  return Next().text;
}

void Parser::ExpectBlockEnd() {
  if (Peek().kind != TokenKind::kBlockEnd) Unexpected(Peek(), "end of statement block '%}'");
  Next();
}

ast::StmtPtr Parser::ParseIf(int line) {
  auto node = std::make_unique<ast::If>(line);
  ast::ExprPtr cond = ParseExpression();
  ExpectBlockEnd();
  OpenBlock open{"if", line, {"elif", "else", "endif"}};
  for (;;) {
    ast::Body body = ParseBody(&open);
    node->branches.emplace_back(std::move(cond), std::move(body));
    std::string_view tag = TakeStopTag();
    if (tag == "elif") {
      cond = ParseExpression();
      ExpectBlockEnd();
      continue;
    }
    ExpectBlockEnd();
    if (tag == "else") {
      OpenBlock else_open{"if", line, {"endif"}};
      node->otherwise = ParseBody(&else_open);
      TakeStopTag();
      ExpectBlockEnd();
    }
    return node;
  }
}

ast::StmtPtr Parser::ParseFor(int line) {
  auto node = std::make_unique<ast::For>(line);
  do {
    const Token& at = Peek();
    node->targets.push_back(ExpectName("a loop variable"));
    if (node->targets.back() == "loop") Error(at, "cannot use 'loop' as a loop variable: it is reserved");
  } while (SkipOp(","));
  if (!SkipName("in")) Unexpected(Peek(), "'in'");
  // No conditional expression here: in `for x in xs if cond`, the `if` filters the loop.
  node->iterable = ParseTupleOrExpression(/*with_condexpr=*/false);
  if (SkipName("if")) node->filter = ParseExpression();
  if (IsName("recursive")) Error(Peek(), "recursive loops are not supported");
  ExpectBlockEnd();
  OpenBlock open{"for", line, {"else", "endfor"}};
  node->body = ParseBody(&open);
  if (TakeStopTag() == "else") {
    ExpectBlockEnd();
    OpenBlock else_open{"for", line, {"endfor"}};
    node->otherwise = ParseBody(&else_open);
    TakeStopTag();
  }
  ExpectBlockEnd();
  return node;
}

ast::StmtPtr Parser::ParseSet(int line) {
  std::vector<std::string> targets;
  do {
    targets.push_back(ExpectName("a variable name"));
  } while (SkipOp(","));
  if (Peek().kind == TokenKind::kBlockEnd && targets.size() == 1) {
    // {% set x %}...{% endset %} captures rendered text.
    Next();
    auto node = std::make_unique<ast::SetBlock>(line, std::move(targets[0]));
    OpenBlock open{"set", line, {"endset"}};
    node->body = ParseBody(&open);
    TakeStopTag();
    ExpectBlockEnd();
    return node;
  }
  if (IsOp(".")) Error(Peek(), "assigning to an attribute is not supported");
  ExpectOp("=");
  auto node = std::make_unique<ast::Set>(line);
  node->targets = std::move(targets);
  node->value = ParseTupleOrExpression();
  ExpectBlockEnd();
  return node;
}

ast::StmtPtr Parser::ParseMacro(int line) {
  auto node = std::make_unique<ast::Macro>(line, ExpectName("a macro name"));
  ExpectOp("(");
  while (!IsOp(")")) {
    const Token& at = Peek();
    ast::MacroParam param;
    param.name = ExpectName("a parameter name");
    for (const auto& p : node->params) {
      if (p.name == param.name) Error(at, "duplicate parameter '" + param.name + "' in macro '" + node->name + "'");
    }
    if (SkipOp("=")) {
      param.default_value = ParseExpression();
    } else if (!node->params.empty() && node->params.back().default_value) {
      Error(at, "parameter '" + param.name + "' without a default follows one with a default");
    }
    node->params.push_back(std::move(param));
    if (!SkipOp(",")) break;
  }
  ExpectOp(")");
  ExpectBlockEnd();
  OpenBlock open{"macro", line, {"endmacro"}};
  node->body = ParseBody(&open);
  TakeStopTag();
  ExpectBlockEnd();
  return node;
}

// ---- tokens ------------------------------------------------------------------------------

const Token& Parser::Peek(size_t ahead) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }

const Token& Parser::Next() {
  const Token& t = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool Parser::IsName(std::string_view name, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokenKind::kName && t.text == name;
}

bool Parser::IsOp(std::string_view op, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokenKind::kOperator && t.text == op;
}

bool Parser::SkipName(std::string_view name) {
  if (!IsName(name)) return false;
  Next();
  return true;
}

bool Parser::SkipOp(std::string_view op) {
  if (!IsOp(op)) return false;
  Next();
  return true;
}

void Parser::ExpectOp(std::string_view op) {
  if (!SkipOp(op)) Unexpected(Peek(), "'" + std::string(op) + "'");
}

std::string Parser::ExpectName(std::string_view what) {
  if (Peek().kind != TokenKind::kName) Unexpected(Peek(), what);
  return std::string(Next().text);
}

void Parser::Error(const Token& at, std::string message) const { Fail(file_, at.line, std::move(message)); }

void Parser::Unexpected(const Token& at, std::string_view expected) const {
  Error(at, "expected " + std::string(expected) + ", got " + Describe(at));
}

}  // namespace derived::tmpl
