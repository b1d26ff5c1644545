// The parse stage for one table: both renderings parsed by DuckDB's parser, every name
// resolved, and each upstream recorded with the reference that makes it one: a line of
// the template for the SQL (through the source map), the test for a test.
#include <fmt/format.h>

#include "compile/stages.h"
#include "util/hash.h"
#include "util/strings.h"

namespace derived::compile_internal {

bool IsSystemSchema(const std::string& schema) {
  std::string s = ToLower(schema);
  return s == "information_schema" || s == "pg_catalog";
}

Result<std::vector<sql::TableRef>> ParseRefs(const std::string& sql, sql::SqlParser& parser,
                                             CompileCache* cache) {
  std::string key;
  if (cache) {
    key = ContentHash(sql);
    if (auto hit = cache->FindParse(key)) return std::move(*hit);
  }
  auto parsed = parser.Parse(sql);
  if (!parsed.ok()) return parsed.error();
  if (cache) cache->PutParse(key, parsed->tables);
  return std::move(parsed->tables);
}

Location TemplateSite(const tmpl::Origin& o, const std::string& own_file) {
  // Text a macro wrote is placed at the macro's call, whose column is not recorded.
  if (!o.macro.empty()) return {own_file, o.site_line, 0};
  return {std::string(o.file), o.line, o.column};
}

void ParseTable(const ParseContext& ctx, const TableMaps& maps, CompiledTable* t, Diagnostics* diags) {
  const CompiledProject& cp = *ctx.cp;
  const TableDef& def = cp.def(*t);
  PlacementSet places = cp.PlacementsOf(t->placement);
  std::map<std::string, UpstreamEdge> edges;  // by name: the first reference wins
  bool ok = true;
  for (bool initial : {false, true}) {
    const std::string& text = initial ? t->initial_sql : t->sql;
    if (initial && t->initial_sql == t->sql) break;
    const tmpl::SourceMap& map = initial ? maps.initial : maps.sql;
    auto refs = ParseRefs(text, *ctx.parser, ctx.cache);
    if (!refs.ok()) {
      const Location& at = refs.error().where;  // within `text`; line 0 when the parser gives none
      SqlOrigin o = OriginOf(map, places, at.line > 0 ? OffsetOfLineColumn(text, at.line, at.column) : 0);
      Location where = at.line > 0 ? o.where : Location{places.own->file(), places.own->first_line(), 0};
      std::string variant = initial ? " (in the initial-build SQL)" : "";
      diags->AddError(where, WithExcerpt("invalid SQL" + variant + ": " + refs.error().message +
                                             (at.line > 0 ? o.Note() : ""),
                                         text, at.line));
      t->unparsed_at = where;
      t->unparsed_initial = initial;
      ok = false;
      break;
    }
    for (const auto& ref : *refs) {
      if (IsSystemSchema(ref.schema)) continue;
      auto name = ctx.names->Resolve(ref, def.dataset);
      if (!name.ok()) {
        SqlOrigin o = OriginOf(map, places, ref.offset);
        diags->AddError(o.where, name.error().message + o.Note());
        ok = false;
        continue;
      }
      if (*name == def.qualified_name()) {
        t->reads_itself = true;
        continue;
      }
      edges.emplace(*name,
                    UpstreamEdge{*name, EdgeKind::kSql, "",
                                 TemplateSite(map.At(ref.offset), t->placement->file()), t->placement});
    }
  }
  // A relationships test reads its target inside the table's transaction, so the target
  // is built first and gates the table like any input.
  for (const auto& test : def.tests) {
    if (test.kind != TestDef::Kind::kRelationships) continue;
    const std::string& target = test.to_table;
    if (target != def.qualified_name() && (cp.project.FindTable(target) || cp.project.FindSource(target))) {
      edges.emplace(target,
                    UpstreamEdge{target, EdgeKind::kRelationshipsTest, test.name, test.where, nullptr});
    }
  }
  bool has_custom = false;
  for (const auto& test : def.tests) has_custom |= test.kind == TestDef::Kind::kSql;
  if (has_custom) {
    // The tests' SQL sits in the YAML file: read again to place it (the model keeps only
    // the test's own location).
    std::optional<std::string> yaml = ReadProjectFile(cp.project, def.file);
    CompileCustomTests(ctx, yaml ? &*yaml : nullptr, t, &edges, diags);
  }
  for (auto& [name, edge] : edges) {
    t->upstream.push_back(name);
    t->edges.push_back(std::move(edge));
  }
  t->parsed = ok;
}

}  // namespace derived::compile_internal
