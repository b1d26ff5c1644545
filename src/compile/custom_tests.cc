// Custom SQL tests (`tests: [{name: x, sql: SELECT ...}]`), checked by validate as a
// table's own SQL is: rendered with the table's context, parsed as exactly one SELECT,
// and every name resolved. The tables a test reads are upstream edges of kind
// kCustomTest: the test runs inside the table's transaction, so what it reads is built
// first and gates the table, as a relationships test's target does.
#include <fmt/format.h>

#include "compile/stages.h"
#include "util/strings.h"

namespace derived::compile_internal {
namespace {

// Parser messages without a position say what the statement is, not where.
std::string ParseProblem(const Error& e) {
  return e.where.line > 0 ? "invalid SQL: " + e.message : e.message;
}

}  // namespace

void CompileCustomTests(const ParseContext& ctx, const std::string* yaml, CompiledTable* t,
                        std::map<std::string, UpstreamEdge>* edges, Diagnostics* diags) {
  const CompiledProject& cp = *ctx.cp;
  const TableDef& def = cp.def(*t);
  for (size_t i = 0; i < def.tests.size(); ++i) {
    const TestDef& test = def.tests[i];
    if (test.kind != TestDef::Kind::kSql) continue;
    CompiledTest& ct = t->custom_tests.emplace_back();
    ct.index = i;
    int first_line = yaml ? TestSqlFirstLine(*yaml, i) : 0;
    if (first_line > 0) {
      ct.placement =
          std::make_shared<TextPlacement>(TextPlacement::InYaml(def.file, first_line, test.sql, *yaml));
    } else {
      // Not found again in the file (it changed under us): the test's own line, without columns.
      first_line = std::max(test.where.line, 1);
      ct.placement = std::make_shared<TextPlacement>(TextPlacement::LinesOnly(def.file, first_line));
    }
    std::string what = fmt::format("custom test '{}'", test.name);
    Location start = ct.placement->Place(first_line, 0);

    auto tpl = tmpl::Parse({def.file, first_line, test.sql});
    if (!tpl.ok()) {
      diags->AddError(tpl.error().where, what + ": " + tpl.error().message);
      continue;
    }
    ct.tpl = *tpl;
    tmpl::SourceMap map;
    auto sql = cp.environment().Render(**tpl, cp.ContextFor(def, t->window, false), &map);
    if (!sql.ok()) {
      diags->AddError(sql.error().where, what + ": " + sql.error().message);
      continue;
    }
    ct.sql = std::move(*sql);

    PlacementSet places = cp.PlacementsOf(ct.placement);
    auto refs = ParseRefs(ct.sql, *ctx.parser, ctx.cache);
    if (!refs.ok()) {
      const Location& at = refs.error().where;
      SqlOrigin o = OriginOf(map, places, OffsetOfLineColumn(ct.sql, at.line, at.column));
      diags->AddError(at.line > 0 ? o.where : start,
                      WithExcerpt(what + ": " + ParseProblem(refs.error()) + (at.line > 0 ? o.Note() : ""),
                                  ct.sql, at.line));
      continue;
    }
    bool ok = true;
    std::set<std::string> reads;
    for (const auto& ref : *refs) {
      if (IsSystemSchema(ref.schema)) continue;
      auto name = ctx.names->Resolve(ref, def.dataset);
      if (!name.ok()) {
        SqlOrigin o = OriginOf(map, places, ref.offset);
        diags->AddError(o.where, what + ": " + name.error().message + o.Note());
        ok = false;
        continue;
      }
      if (*name == def.qualified_name()) {
        ct.reads_itself = true;
        continue;
      }
      reads.insert(*name);
      edges->emplace(*name, UpstreamEdge{*name, EdgeKind::kCustomTest, test.name,
                                         TemplateSite(map.At(ref.offset), def.file), ct.placement});
    }
    ct.reads.assign(reads.begin(), reads.end());
    ct.parsed = ok;
  }
}

}  // namespace derived::compile_internal
