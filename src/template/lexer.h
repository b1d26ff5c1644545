// Splits template text into tokens in one linear pass, as Jinja2's lexer does with its
// default settings: text between tags, and the tokens inside {{ }} and {% %}. Comments and
// whitespace control ({%- -%}, {{- -}}, {#- -#}) are resolved here, so the parser never
// sees them, and {% raw %} blocks come out as plain text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace derived::tmpl {

enum class TokenKind {
  kText,           // template text outside tags
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,           // identifiers and keywords (if, in, not, true, ...)
  kString,         // decoded into Token::value
  kInteger,        // Token::int_value
  kFloat,          // Token::float_value
  kOperator,       // + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { }
  kEnd,            // end of the template
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  int line = 0;           // line in the file (first_line already applied)
  int column = 0;         // 1-based byte column in the text's line where the token starts
  std::string_view text;  // kText: the text; kName/kOperator: the spelling. Views the lexed source.
  std::string value;      // kString only: the decoded literal
  int64_t int_value = 0;
  double float_value = 0;
};

// Jinja's default newline handling: "\r\n" and "\r" become "\n", and one trailing newline
// is dropped (keep_trailing_newline=False).
std::string NormalizeNewlines(std::string_view text);

// REQUIRES: `text` is normalized and outlives the tokens (they view it). `first_line` is
// the line in `file` where `text` starts. Errors carry file and line.
Result<std::vector<Token>> Tokenize(std::string_view text, const std::string& file, int first_line);

// A token as it appears in error messages: "'endfor'", "end of statement block", ...
std::string Describe(const Token& token);

}  // namespace derived::tmpl
