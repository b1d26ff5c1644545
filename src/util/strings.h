// Small string helpers shared across subsystems.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace derived {

std::string ToLower(std::string_view s);
std::string Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
// "1 window", "3 windows": `n` and `word`, with an "s" unless n is 1.
std::string Plural(int64_t n, std::string_view word);
// Every occurrence of `from` (non-empty) replaced by `to`.
std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to);

// Standard SQL quoting, which every engine Derived supports reads: "a""b" and 'it''s'.
std::string QuoteIdentifier(std::string_view name);
std::string QuoteLiteral(std::string_view value);

// `text` as one word for /bin/sh, in single quotes.
std::string ShellQuote(std::string_view text);
// The text with surrounding whitespace and trailing semicolons removed: one statement
// ready to be embedded in another.
std::string StripStatement(std::string_view sql);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible typo
// (case-insensitive); empty when none is.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to an error message.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// 1-based line number of byte `offset` in `text`.
int LineOfOffset(std::string_view text, size_t offset);

}  // namespace derived
