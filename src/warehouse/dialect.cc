#include <fmt/format.h>

#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived {

std::string SqlDialect::Ident(std::string_view name) const { return QuoteIdentifier(name); }
std::string SqlDialect::Literal(std::string_view text) const { return QuoteLiteral(text); }

std::string SqlDialect::MergeExpression(MergeRule rule, const std::string& col, const std::string& tc) const {
  std::string t = "t." + col, b = "b." + col, ttc = "t." + tc, btc = "b." + tc;
  switch (rule) {
    case MergeRule::kLatest:  // the incoming row wins ties, so re-merging a window changes nothing
      return fmt::format("CASE WHEN {1} IS NOT NULL AND ({0} IS NULL OR {1} >= {0}) THEN {3} ELSE {2} END", ttc, btc,
                         t, b);
    case MergeRule::kEarliest:
      return fmt::format("CASE WHEN {1} IS NOT NULL AND ({0} IS NULL OR {1} < {0}) THEN {3} ELSE {2} END", ttc, btc,
                         t, b);
    case MergeRule::kMin:
      return fmt::format("CASE WHEN {0} IS NULL THEN {1} WHEN {1} IS NULL THEN {0} ELSE least({0}, {1}) END", t, b);
    case MergeRule::kMax:
      return fmt::format("CASE WHEN {0} IS NULL THEN {1} WHEN {1} IS NULL THEN {0} ELSE greatest({0}, {1}) END", t,
                         b);
    case MergeRule::kSum:
      return fmt::format("CASE WHEN {0} IS NULL THEN {1} WHEN {1} IS NULL THEN {0} ELSE {0} + {1} END", t, b);
    case MergeRule::kCount:
      return fmt::format("coalesce({0}, 0) + coalesce({1}, 0)", t, b);
    case MergeRule::kCoalesce:
      return fmt::format("coalesce({0}, {1})", t, b);
  }
  return b;
}

}  // namespace derived
