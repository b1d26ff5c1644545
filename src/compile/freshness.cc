// The freshness query of a source (`freshness: {query: SELECT max(ts) FROM raw.e}`) is
// user SQL like any other: it must be exactly one SELECT, and validate says so with its
// place in the file. (At run time it is checked again before it runs: sql/embed.h.)
#include <fmt/format.h>

#include "compile/stages.h"

namespace derived::compile_internal {

void CheckFreshnessQueries(const Project& project, sql::SqlParser& parser, Diagnostics* diags) {
  for (const auto& s : project.sources) {
    if (s.freshness.kind != Freshness::Kind::kQuery) continue;
    auto parsed = parser.Parse(s.freshness.query);
    if (parsed.ok()) continue;
    const Error& e = parsed.error();
    std::optional<std::string> yaml = ReadProjectFile(project, s.file);
    int first_line = yaml ? FreshnessQueryFirstLine(*yaml) : 0;
    Location where = s.LocationOf("freshness");
    if (first_line > 0) {
      TextPlacement place = TextPlacement::InYaml(s.file, first_line, s.freshness.query, *yaml);
      where = e.where.line > 0 ? place.Place(first_line + e.where.line - 1, e.where.column)
                               : place.Place(first_line, 0);
    }
    std::string problem = e.where.line > 0 ? "invalid SQL: " + e.message : e.message;
    diags->AddError(where, WithExcerpt("freshness query: " + problem, s.freshness.query, e.where.line));
  }
}

}  // namespace derived::compile_internal
