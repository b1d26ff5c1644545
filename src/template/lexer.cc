#include "template/lexer.h"

#include <charconv>
#include <cstdlib>

#include "template/error.h"

namespace derived::tmpl {

namespace {

// Python's whitespace for str.rstrip() and the regex \s, restricted to ASCII.
bool IsSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

std::string_view RStrip(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, const std::string& file, int first_line)
      : src_(src), file_(file), line_offset_(first_line - 1) {}

  std::vector<Token> Run() {
    while (pos_ < src_.size()) {
      size_t tag = FindTagStart(pos_);
      std::string_view text = src_.substr(pos_, tag == std::string_view::npos ? std::string_view::npos : tag - pos_);
      if (tag == std::string_view::npos) {
        EmitText(text);
        AdvanceTo(src_.size());
        break;
      }
      char kind = src_[tag + 1];
      char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (modifier == '-') text = RStrip(text);
      EmitText(text);
      AdvanceTo(tag);
      int tag_line = line();
      int tag_column = column();
      size_t body = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      if (kind == '#') {
        LexComment(body, tag_line);
      } else if (kind == '%' && LexRaw(body, tag_line)) {
        // raw block emitted as text
      } else {
        AdvanceTo(body);
        LexTag(kind == '{', tag_line, tag_column);
      }
    }
    Emit(TokenKind::kEnd, {});
    return std::move(tokens_);
  }

 private:
  int line() const { return line_ + line_offset_; }
  int column() const { return static_cast<int>(pos_ - line_start_) + 1; }
  [[noreturn]] void Error(int line, std::string message) const { Fail(file_, line, std::move(message)); }

  void AdvanceTo(size_t to) {
    for (; pos_ < to; ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
    }
  }
  void SkipSpace() {
    size_t p = pos_;
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    AdvanceTo(p);
  }

  Token& Emit(TokenKind kind, std::string_view text) {
    Token& t = tokens_.emplace_back();
    t.kind = kind;
    t.line = line();
    t.column = column();
    t.text = text;
    return t;
  }
  void EmitText(std::string_view text) {
    if (!text.empty()) Emit(TokenKind::kText, text);
  }

  size_t FindTagStart(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string_view::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) return p;
    }
    return std::string_view::npos;
  }

  void LexComment(size_t body, int start_line) {
    size_t end = src_.find("#}", body);
    if (end == std::string_view::npos) Error(start_line, "unclosed comment: missing '#}'");
    bool strip_after = end > body && src_[end - 1] == '-';
    AdvanceTo(end + 2);
    if (strip_after) SkipSpace();
  }

  // Matches `{%[-+]? \s* word \s* [-+]? %}` whose body (after the optional modifier) starts
  // at `p`; returns the position after it, or npos. Sets *strip_after for "-%}".
  size_t MatchSimpleTag(size_t p, std::string_view word, bool* strip_after) const {
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    if (src_.substr(p, word.size()) != word) return std::string_view::npos;
    p += word.size();
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    *strip_after = false;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) {
      *strip_after = src_[p] == '-';
      ++p;
    }
    if (src_.substr(p, 2) != "%}") return std::string_view::npos;
    return p + 2;
  }

  // {% raw %}...{% endraw %}: the content is text, whatever it contains.
  bool LexRaw(size_t body, int start_line) {
    bool strip_after = false;
    size_t content = MatchSimpleTag(body, "raw", &strip_after);
    if (content == std::string_view::npos) return false;
    AdvanceTo(content);
    if (strip_after) SkipSpace();
    content = pos_;
    for (size_t p = src_.find("{%", content); p != std::string_view::npos; p = src_.find("{%", p + 2)) {
      char modifier = p + 2 < src_.size() ? src_[p + 2] : '\0';
      size_t end_body = p + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      bool end_strip_after = false;
      size_t after = MatchSimpleTag(end_body, "endraw", &end_strip_after);
      if (after == std::string_view::npos) continue;
      std::string_view text = src_.substr(content, p - content);
      if (modifier == '-') text = RStrip(text);
      EmitText(text);
      AdvanceTo(after);
      if (end_strip_after) SkipSpace();
      return true;
    }
    Error(start_line, "unclosed 'raw' block: missing '{% endraw %}'");
  }

  // The tokens of one {{ ... }} or {% ... %}, through its closing delimiter.
  void LexTag(bool is_variable, int start_line, int start_column) {
    Token& begin = Emit(is_variable ? TokenKind::kVariableBegin : TokenKind::kBlockBegin, {});
    begin.line = start_line;
    begin.column = start_column;
    std::vector<char> open;  // brackets: a '}}' inside {'a': {'b': 1}} closes a dict, not the tag
    char close = is_variable ? '}' : '%';
    for (;;) {
      SkipSpace();
      if (pos_ >= src_.size()) {
        Error(line(), std::string("unexpected end of template: missing '") + close + "}' for the tag opened on line " +
                          std::to_string(start_line));
      }
      if (open.empty()) {
        size_t p = pos_;
        bool strip_after = false;
        if (src_[p] == '-' || (!is_variable && src_[p] == '+')) {
          strip_after = src_[p] == '-';
          ++p;
        }
        if (src_.substr(p, 2) == std::string{close, '}'}) {
          Emit(is_variable ? TokenKind::kVariableEnd : TokenKind::kBlockEnd, src_.substr(pos_, p + 2 - pos_));
          AdvanceTo(p + 2);
          if (strip_after) SkipSpace();
          return;
        }
      }
      LexToken(&open);
    }
  }

  void LexToken(std::vector<char>* open) {
    char c = src_[pos_];
    if (IsNameStart(c)) {
      size_t end = pos_ + 1;
      while (end < src_.size() && IsNameChar(src_[end])) ++end;
      Emit(TokenKind::kName, src_.substr(pos_, end - pos_));
      AdvanceTo(end);
    } else if (IsDigit(c)) {
      LexNumber();
    } else if (c == '\'' || c == '"') {
      LexString();
    } else {
      LexOperator(open);
    }
  }

  void LexNumber() {
    size_t start = pos_, p = pos_;
    std::string digits;
    auto take_digits = [&](auto is_digit) {
      while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
        if (src_[p] != '_') digits.push_back(src_[p]);
        ++p;
      }
    };
    int base = 10;
    if (src_[p] == '0' && p + 1 < src_.size() && std::string_view("bBoOxX").find(src_[p + 1]) != std::string_view::npos) {
      char b = static_cast<char>(src_[p + 1] | 0x20);
      base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
      p += 2;
      take_digits([base](char d) {
        if (base == 16) return IsDigit(d) || ((d | 0x20) >= 'a' && (d | 0x20) <= 'f');
        return d >= '0' && d < static_cast<char>('0' + base);
      });
    } else {
      take_digits(IsDigit);
    }
    bool is_float = false;
    // Like Jinja, `x.0.1` is two integer lookups, not a float: no fraction after a dot.
    bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::kOperator && tokens_.back().text == ".";
    if (base == 10 && !after_dot) {
      if (p + 1 < src_.size() && src_[p] == '.' && IsDigit(src_[p + 1])) {
        is_float = true;
        digits.push_back('.');
        ++p;
        take_digits(IsDigit);
      }
      size_t q = p;
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        ++q;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        if (q < src_.size() && IsDigit(src_[q])) {
          is_float = true;
          digits.append(src_.substr(p, q - p));
          p = q;
          take_digits(IsDigit);
        }
      }
    }
    if (digits.empty()) Error(line(), "invalid number literal '" + std::string(src_.substr(start, p - start)) + "'");
    Token& t = Emit(is_float ? TokenKind::kFloat : TokenKind::kInteger, src_.substr(start, p - start));
    if (is_float) {
      t.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value, base);
      if (ec != std::errc()) Error(line(), "integer literal too large: " + std::string(t.text));
    }
    AdvanceTo(p);
  }

  void LexString() {
    char quote = src_[pos_];
    int start_line = line();
    std::string value;
    size_t p = pos_ + 1;
    for (;; ++p) {
      if (p >= src_.size()) Error(start_line, "unterminated string literal");
      char c = src_[p];
      if (c == quote) break;
      if (c != '\\' || p + 1 >= src_.size()) {
        value.push_back(c);
        continue;
      }
      char e = src_[++p];
      switch (e) {
        case 'n': value.push_back('\n'); break;
        case 't': value.push_back('\t'); break;
        case 'r': value.push_back('\r'); break;
        case '\\': value.push_back('\\'); break;
        case '\'': value.push_back('\''); break;
        case '"': value.push_back('"'); break;
        case 'a': value.push_back('\a'); break;
        case 'b': value.push_back('\b'); break;
        case 'f': value.push_back('\f'); break;
        case 'v': value.push_back('\v'); break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          auto [end, ec] = std::from_chars(src_.data() + p + 1, src_.data() + std::min(src_.size(), p + 1 + n), cp, 16);
          if (ec != std::errc() || end != src_.data() + p + 1 + n || cp > 0x10FFFF) {
            Error(line(), std::string("invalid \\") + e + " escape in string literal");
          }
          AppendUtf8(cp, &value);
          p += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {  // octal, up to three digits
            uint32_t cp = 0;
            size_t n = 0;
            for (; n < 3 && p + n < src_.size() && src_[p + n] >= '0' && src_[p + n] <= '7'; ++n) {
              cp = cp * 8 + static_cast<uint32_t>(src_[p + n] - '0');
            }
            AppendUtf8(cp, &value);
            p += n - 1;
          } else {
            // Python keeps unknown escapes as written: '\d+' stays a regex.
            value.push_back('\\');
            value.push_back(e);
          }
      }
    }
    Token& t = Emit(TokenKind::kString, src_.substr(pos_, p + 1 - pos_));
    t.line = start_line;
    t.value = std::move(value);
    AdvanceTo(p + 1);
  }

  void LexOperator(std::vector<char>* open) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    std::string_view two = src_.substr(pos_, 2);
    for (std::string_view op : kTwo) {
      if (two == op) {
        Emit(TokenKind::kOperator, src_.substr(pos_, 2));
        AdvanceTo(pos_ + 2);
        return;
      }
    }
    char c = src_[pos_];
    if (std::string_view("+-*/%~[](){}<>=.:|,;").find(c) == std::string_view::npos) {
      Error(line(), std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      open->push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (open->empty()) Error(line(), std::string("unexpected '") + c + "'");
      if (open->back() != c) {
        Error(line(), std::string("unexpected '") + c + "', expected '" + open->back() + "'");
      }
      open->pop_back();
    }
    Emit(TokenKind::kOperator, src_.substr(pos_, 1));
    AdvanceTo(pos_ + 1);
  }

  std::string_view src_;
  const std::string& file_;
  int line_offset_;
  size_t pos_ = 0;
  int line_ = 1;  // within src_
  size_t line_start_ = 0;  // offset in src_ of the current line's first byte
  std::vector<Token> tokens_;
};

}  // namespace

std::string NormalizeNewlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

Result<std::vector<Token>> Tokenize(std::string_view text, const std::string& file, int first_line) {
  try {
    return Lexer(text, file, first_line).Run();
  } catch (const TemplateError& e) {
    return e.error();
  }
}

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText: return "template text";
    case TokenKind::kVariableBegin: return "'{{'";
    case TokenKind::kVariableEnd: return "end of print statement";
    case TokenKind::kBlockBegin: return "'{%'";
    case TokenKind::kBlockEnd: return "end of statement block";
    case TokenKind::kEnd: return "end of template";
    case TokenKind::kString:
      return "string " + std::string(token.text);  // text has its quotes
    default: return "'" + std::string(token.text) + "'";
  }
}

}  // namespace derived::tmpl
