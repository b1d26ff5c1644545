#include "sql/text.h"

#include <cctype>

namespace derived::sql {
namespace {

bool WordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }

struct Token {
  enum class Kind { kEnd, kWord, kQuoted, kSemicolon, kOther };
  Kind kind = Kind::kEnd;
  size_t begin = 0, end = 0;
};

// Past whitespace and comments from `pos`. Block comments nest, as in PostgreSQL.
size_t SkipBlank(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[pos]))) {
      ++pos;
    } else if (s.compare(pos, 2, "--") == 0) {
      size_t nl = s.find('\n', pos);
      pos = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s.compare(pos, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (s.compare(pos, 2, "/*") == 0) {
          ++depth, pos += 2;
        } else if (s.compare(pos, 2, "*/") == 0) {
          --depth, pos += 2;
        } else {
          ++pos;
        }
      } while (depth > 0 && pos < s.size());
    } else {
      break;
    }
  }
  return pos;
}

// The end of a quoted token opened at `pos` by `quote` (doubled quotes escape it; with
// `backslash`, so does a backslash). Unterminated: the end of the text.
size_t QuotedEnd(std::string_view s, size_t pos, char quote, bool backslash) {
  for (size_t i = pos + 1; i < s.size(); ++i) {
    if (backslash && s[i] == '\\') {
      ++i;
    } else if (s[i] == quote) {
      if (i + 1 < s.size() && s[i + 1] == quote) {
        ++i;
      } else {
        return i + 1;
      }
    }
  }
  return s.size();
}

// "$tag$" at `pos` opens a dollar-quoted string: its end, or npos when `pos` is not one.
size_t DollarEnd(std::string_view s, size_t pos) {
  size_t i = pos + 1;
  if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) return std::string_view::npos;  // $1
  while (i < s.size() && WordChar(s[i])) ++i;
  if (i >= s.size() || s[i] != '$') return std::string_view::npos;
  std::string_view tag = s.substr(pos, i + 1 - pos);
  size_t close = s.find(tag, i + 1);
  return close == std::string_view::npos ? s.size() : close + tag.size();
}

Token Next(std::string_view s, size_t pos) {
  Token t;
  t.begin = SkipBlank(s, pos);
  if (t.begin >= s.size()) {
    t.begin = t.end = s.size();
    return t;
  }
  char c = s[t.begin];
  if (c == ';') {
    t.kind = Token::Kind::kSemicolon;
    t.end = t.begin + 1;
  } else if (c == '\'' || c == '"') {
    t.kind = Token::Kind::kQuoted;
    t.end = QuotedEnd(s, t.begin, c, false);
  } else if (c == '$' && DollarEnd(s, t.begin) != std::string_view::npos) {
    t.kind = Token::Kind::kQuoted;
    t.end = DollarEnd(s, t.begin);
  } else if (WordChar(c)) {
    size_t i = t.begin;
    while (i < s.size() && (WordChar(s[i]) || s[i] == '$')) ++i;
    // E'...' takes backslash escapes; other prefixes (X'', B'', U&'') are plain strings.
    if (i - t.begin == 1 && (c == 'e' || c == 'E') && i < s.size() && s[i] == '\'') {
      t.kind = Token::Kind::kQuoted;
      t.end = QuotedEnd(s, i, '\'', true);
      return t;
    }
    t.kind = Token::Kind::kWord;
    t.end = i;
  } else {
    t.kind = Token::Kind::kOther;
    t.end = t.begin + 1;
  }
  return t;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<std::string_view> SplitAtSemicolons(std::string_view sql) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (Token t = Next(sql, 0); t.kind != Token::Kind::kEnd; t = Next(sql, t.end)) {
    if (t.kind == Token::Kind::kSemicolon) {
      pieces.push_back(sql.substr(start, t.begin - start));
      start = t.end;
    }
  }
  pieces.push_back(sql.substr(start));
  return pieces;
}

bool IsBlank(std::string_view piece) { return SkipBlank(piece, 0) >= piece.size(); }

std::string FirstWord(std::string_view statement) {
  Token t = Next(statement, 0);
  while (t.kind == Token::Kind::kOther && statement[t.begin] == '(') t = Next(statement, t.end);
  return t.kind == Token::Kind::kWord ? Lower(statement.substr(t.begin, t.end - t.begin)) : "";
}

std::vector<std::string> FirstWords(std::string_view statement, size_t n) {
  std::vector<std::string> out;
  Token t = Next(statement, 0);
  while (t.kind == Token::Kind::kOther && statement[t.begin] == '(') t = Next(statement, t.end);
  for (; out.size() < n && t.kind == Token::Kind::kWord; t = Next(statement, t.end)) {
    out.push_back(Lower(statement.substr(t.begin, t.end - t.begin)));
  }
  return out;
}

std::string_view ExplainedStatement(std::string_view statement) {
  Token t = Next(statement, 0);
  auto word = [&](const Token& tok) {
    return tok.kind == Token::Kind::kWord ? Lower(statement.substr(tok.begin, tok.end - tok.begin)) : "";
  };
  if (word(t) != "explain") return "";
  t = Next(statement, t.end);
  for (const char* option : {"analyze", "verbose"}) {
    std::string w = word(t);
    if (w == option || (w == "analyse" && std::string_view(option) == "analyze")) t = Next(statement, t.end);
  }
  if (t.kind == Token::Kind::kOther && statement[t.begin] == '(') {
    int depth = 0;
    do {
      if (t.kind == Token::Kind::kOther && statement[t.begin] == '(') ++depth;
      if (t.kind == Token::Kind::kOther && statement[t.begin] == ')') --depth;
      t = Next(statement, t.end);
    } while (depth > 0 && t.kind != Token::Kind::kEnd);
  }
  return statement.substr(t.begin);
}

std::string ShortStatement(std::string_view statement, size_t max) {
  std::string out;
  size_t last = 0;
  for (Token t = Next(statement, 0); t.kind != Token::Kind::kEnd && out.size() <= max; t = Next(statement, t.end)) {
    if (!out.empty() && t.begin > last) out += ' ';  // whitespace or comments between: one space
    out += statement.substr(t.begin, t.end - t.begin);
    last = t.end;
  }
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (out.size() > max) {
    size_t cut = max - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    out = out.substr(0, cut) + "...";
  }
  return out;
}

}  // namespace derived::sql
