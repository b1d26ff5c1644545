// The text of SQL statements, by DuckDB's lexical rules: quoted strings and identifiers,
// dollar quoting, nested comments. DuckDB's parser decides what the statements are
// (Connection::Parse); this only finds where each one is written, to show it and to read
// its first words. Script checks that the two agree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace derived::sql {

// The pieces of `sql` between top-level semicolons, in order, including pieces that are
// empty or only comments (DuckDB skips those).
std::vector<std::string_view> SplitAtSemicolons(std::string_view sql);

// True when `piece` holds nothing but whitespace and comments.
bool IsBlank(std::string_view piece);

// The first word of a statement, lowercase, past comments and opening parentheses
// ("select" for "(SELECT 1)"); "" when it starts with something else.
std::string FirstWord(std::string_view statement);

// Up to `n` words the statement starts with, lowercase, the same way: fewer when something
// other than a word comes first ({"update", "extensions"} for "UPDATE EXTENSIONS (x)").
std::vector<std::string> FirstWords(std::string_view statement, size_t n);

// For "EXPLAIN [ANALYZE | ANALYSE] [VERBOSE] [(options)] statement": the statement
// explained. "" when `statement` is not an EXPLAIN.
std::string_view ExplainedStatement(std::string_view statement);

// One line for messages: whitespace and comments collapsed, at most `max` characters.
std::string ShortStatement(std::string_view statement, size_t max = 60);

}  // namespace derived::sql
