// Internal stages of Compile(), one file each. Not a public API.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "compile/cache.h"
#include "compile/compiler.h"
#include "sql/parser.h"
#include "sql/references.h"
#include "template/source_map.h"
#include "template/template.h"

namespace derived::compile_internal {

// render.cc: the template globals for one table and window (without dbt hints).
tmpl::Context MakeContext(const Project& project, const TableDef& table, Window window, bool initial_build);
tmpl::Value JsonToValue(const nlohmann::json& json);
// Adds a "  | the line" excerpt of the rendered SQL under a message.
std::string WithExcerpt(const std::string& message, const std::string& rendered, int line);

// dbt_hints.cc: ref() and source() functions that fail naming what to write instead, as
// template globals for the tables of each dataset (keyed by dataset), made once.
std::map<std::string, tmpl::Context> MakeDbtHints(const Project& project, bool ref, bool source);

// placements.cc: where a table's SQL text sits in its file (SQL embedded in YAML is
// checked against the file when a position is first placed), and the first line of a
// custom test's SQL in the table's YAML.
std::shared_ptr<const TextPlacement> PlaceTableSql(const Project& project, const TableDef& def);
// The line of def.tests[index]'s `sql` value in `yaml`; 0 when it cannot be found.
int TestSqlFirstLine(const std::string& yaml, size_t index);
// The line of a source's `freshness: {query: ...}` value in `yaml`; 0 when not found.
int FreshnessQueryFirstLine(const std::string& yaml);
// The text of a project file, or nullopt when it cannot be read.
std::optional<std::string> ReadProjectFile(const Project& project, const std::string& file);

// resolve.cc: every name a query can refer to.
class NameIndex {
 public:
  explicit NameIndex(const Project& project);
  bool Known(const std::string& qualified) const { return known_.count(qualified) > 0; }
  bool Broken(const std::string& qualified) const { return broken_.count(qualified) > 0; }
  // The qualified name a reference in `table` means (unqualified = the table's dataset),
  // or an error message with a suggestion when it names nothing known.
  Result<std::string> Resolve(const sql::TableRef& ref, const std::string& dataset) const;

 private:
  std::set<std::string> known_;
  std::set<std::string> broken_;
  std::vector<std::string> all_;
};

// Where each byte of a table's two renderings came from; kept only while compiling.
struct TableMaps {
  tmpl::SourceMap sql, initial;
};

// One worker's tools for the parse stage.
struct ParseContext {
  const CompiledProject* cp;
  const NameIndex* names;
  sql::SqlParser* parser;
  CompileCache* cache;  // may be null
};

// Schemas that DuckDB itself provides; references to them are not dependencies.
bool IsSystemSchema(const std::string& schema);
// Parses one rendered query (or takes it from the cache) and returns its references.
Result<std::vector<sql::TableRef>> ParseRefs(const std::string& sql, sql::SqlParser& parser, CompileCache* cache);

// The place in its template (not yet in its file) of a reference a template wrote: the
// macro call's line in `own_file` for text a macro wrote.
Location TemplateSite(const tmpl::Origin& o, const std::string& own_file);

// references.cc: parses a rendered table, resolves its references and records its
// upstream edges (SQL and tests), custom tests included. REQUIRES: t rendered cleanly.
void ParseTable(const ParseContext& ctx, const TableMaps& maps, CompiledTable* t, Diagnostics* diags);

// custom_tests.cc: renders, parses and resolves a table's custom SQL tests, adding the
// tables they read to *edges (kind kCustomTest, unless the SQL already reads them).
void CompileCustomTests(const ParseContext& ctx, const std::string* yaml, CompiledTable* t,
                        std::map<std::string, UpstreamEdge>* edges, Diagnostics* diags);

// freshness.cc: every source's freshness query parsed as exactly one SELECT, like a
// table's SQL; errors name the line of the query in the source's file.
void CheckFreshnessQueries(const Project& project, sql::SqlParser& parser, Diagnostics* diags);

// dag.cc: the graph of sources and tables, cycles reported with every edge; returns the
// nodes that can be checked (not on or below a cycle), upstream first.
std::vector<int> BuildGraph(CompiledProject* cp);

// typecheck.cc: binds every parsed table in `order` (node ids) and checks its declared
// columns, the columns its config names and its custom tests.
// An error when the engine could not answer (not a verdict on any table: try again).
Status TypeCheckTables(CompiledProject* cp, const std::vector<int>& order, CompileCache* cache);

}  // namespace derived::compile_internal
