// Internal to sql/: statement trees (json_serialize_sql form) compared and searched for
// SqlParser's checks of user SQL (sql/embed.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace simdjson::dom {
class element;
}

namespace derived::sql {

// `e` as text, with every source position ("query_location") left out: equal for the
// same query wherever its text sits in a statement.
std::string CanonicalTree(const simdjson::dom::element& e);

// The query nodes that `statement` (a SELECT) holds as a subquery aliased `alias` (the
// outermost ones: not those inside another), or, with `alias` empty, as the query a
// DESCRIBE describes.
std::vector<simdjson::dom::element> EmbeddedQueries(const simdjson::dom::element& statement, std::string_view alias);

// True when `statement` is `SELECT CAST(NULL AS t)` and nothing more (no alias, FROM,
// WHERE, other columns or clauses), whatever the type t.
bool IsNullCastAlone(const simdjson::dom::element& statement);

// The first function the tree calls that user SQL may not call (IsRefusedFunction), or "".
std::string RefusedFunctionIn(const simdjson::dom::element& e);

}  // namespace derived::sql
