// Parse(): newline normalization, lexing and parsing, with errors turned into Results.
#include "template/template.h"

#include "template/ast.h"
#include "template/error.h"
#include "template/lexer.h"
#include "template/parser.h"

namespace derived::tmpl {

Template::Template(std::string file, std::vector<std::unique_ptr<ast::Stmt>> body)
    : file_(std::move(file)), body_(std::move(body)) {
  static const std::string kEmpty;
  if (body_.empty()) {
    plain_text_ = &kEmpty;
  } else if (body_.size() == 1 && body_[0]->kind == ast::StmtKind::kText) {
    plain_text_ = &static_cast<const ast::Text&>(*body_[0]).text;
  }
}

Template::~Template() = default;

Result<std::shared_ptr<const Template>> Parse(const TemplateSource& source) {
  std::string text = NormalizeNewlines(source.text);
  Result<std::vector<Token>> tokens = Tokenize(text, source.file, source.first_line);
  if (!tokens.ok()) return tokens.error();
  try {
    ast::Body body = Parser(*tokens, source.file).ParseTemplate();
    return std::shared_ptr<const Template>(std::make_shared<Template>(source.file, std::move(body)));
  } catch (const TemplateError& e) {
    return e.error();
  }
}

}  // namespace derived::tmpl
