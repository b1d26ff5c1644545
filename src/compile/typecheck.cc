// The type-check stage: bind each table's query against an in-memory catalog built from
// the sources' declared columns and the schemas inferred for upstream tables.
#include <fmt/format.h>

#include <regex>

#include "compile/typecheck.h"
#include "warehouse/warehouse.h"
#include "compile/rendered_sql.h"
#include "compile/stages.h"
#include "util/hash.h"
#include "util/strings.h"

namespace derived::compile_internal {
namespace {

// For an engine error without a position: the offset of the first "quoted" name in the
// message (binder errors name the offending column or table that way), when it occurs in
// the SQL exactly once, so it cannot be another occurrence; -1 otherwise.
int64_t GuessErrorOffset(const std::string& message, const std::string& sql) {
  static const std::regex kQuoted("\"([^\"]+)\"");
  std::string lower_sql = ToLower(sql);
  for (auto it = std::sregex_iterator(message.begin(), message.end(), kQuoted); it != std::sregex_iterator(); ++it) {
    std::string name = ToLower((*it)[1].str());
    size_t pos = lower_sql.find(name);
    if (pos == std::string::npos) continue;
    if (lower_sql.find(name, pos + 1) != std::string::npos) return -1;
    return static_cast<int64_t>(pos);
  }
  return -1;
}

// Engine messages span lines ("...\nCandidate bindings: ..."); indent the continuation.
// The engine's "LINE n:" excerpt numbers the lines of the statement it checked, not the
// template's; the diagnostic's own location replaces it.
std::string TidyEngineMessage(const std::string& message) {
  std::string out;
  for (const auto& line : Split(Trim(WithoutEngineExcerpt(message)), '\n')) {
    if (Trim(line).empty()) continue;
    if (!out.empty()) out += "\n    ";
    out += line;
  }
  return out;
}

class Checker {
 public:
  Checker(CompiledProject* cp, CompileCache* cache, TypeChecker* tc) : cp_(cp), cache_(cache), tc_(tc) {}

  // Set once a bind could not get an answer from the engine: "table: why".
  const std::string& transient() const { return transient_; }

  void DeclareSources() {
    cp_->source_schemas.assign(cp_->project.sources.size(), std::nullopt);
    for (size_t i = 0; i < cp_->project.sources.size(); ++i) {
      const SourceDef& s = cp_->project.sources[i];
      if (s.columns.empty()) continue;  // unknown schema: readers are not type-checked
      std::vector<OutputColumn> cols;
      bool ok = true;
      for (const auto& c : s.columns) {
        if (c.type.empty()) {
          cp_->diags.AddError(c.where, fmt::format("source column '{}' needs a 'type' so queries reading it can "
                                                   "be type-checked",
                                                   c.name));
          ok = false;
          continue;
        }
        auto type = Canonical(c.type, c.where);
        if (!type) {
          ok = false;
          continue;
        }
        cols.push_back({c.name, *type});
      }
      if (!ok) continue;
      cp_->source_schemas[i] = std::move(cols);
    }
  }

  void Check(CompiledTable& t) {
    const TableDef& def = cp_->def(t);
    if (!t.parsed) return;
    // Every upstream must have a known schema, or this table cannot be bound.
    Hasher key;
    key.Add("bind-v3").Add(tc_->engine()).Add(def.dataset).Add(t.sql).Add(t.initial_sql == t.sql ? "" : t.initial_sql);
    for (const auto& up : SqlUpstreams(t)) {
      const std::vector<OutputColumn>* schema = cp_->SchemaOf(up);
      if (!schema) {
        NoteUnchecked(def, up);
        return;
      }
      key.Add(up);
      for (const auto& c : *schema) key.Add(c.name).Add(c.type);
    }
    std::vector<OutputColumn> declared;
    bool declared_complete = !def.columns.empty();
    for (const auto& c : def.columns) {
      if (c.type.empty()) {
        declared_complete = false;
        continue;
      }
      if (auto type = Canonical(c.type, c.where)) declared.push_back({c.name, *type});
    }
    if (t.reads_itself) {
      // A table reading its previous contents is bound against its declared columns.
      if (!declared_complete) {
        cp_->diags.AddWarning(def.LocationOf("sql"), "not type-checked: the table reads itself, so declare every "
                                                     "column with a type");
        return;
      }
      key.Add("self");
      for (const auto& c : declared) key.Add(c.name).Add(c.type);
    }
    BindResult bound = BindCached(key.Hex(), t, declared);
    if (!bound.ok && bound.transient) {
      if (transient_.empty()) transient_ = def.qualified_name() + ": " + TidyEngineMessage(bound.error);
      return;
    }
    if (!bound.ok) {
      const std::string& sql = bound.error_in_initial_sql ? t.initial_sql : t.sql;
      int64_t offset = bound.error_offset >= 0 ? bound.error_offset : GuessErrorOffset(bound.error, sql);
      Location where{def.sql.file, def.sql.first_line, 0};
      std::string note;
      if (offset >= 0) {
        // Rendered again, with its source map: only a failing table pays for one.
        if (auto r = cp_->RenderMapped(t, t.window, bound.error_in_initial_sql); r.ok() && r->sql() == sql) {
          SqlOrigin o = r->OriginAt(static_cast<size_t>(offset));
          where = o.where;
          note = o.Note();
        }
      }
      cp_->diags.AddError(where, "type-check failed: " + TidyEngineMessage(bound.error) + note);
      return;
    }
    if (!CheckOutput(def, bound.columns, declared)) return;
    t.schema = std::move(bound.columns);
    for (const CompiledTest& test : t.custom_tests) CheckCustomTest(t, test);
  }

 private:
  std::optional<std::string> Canonical(const std::string& type, const Location& where) {
    auto canonical = tc_->CanonicalType(type);
    if (!canonical.ok()) {
      cp_->diags.AddError(where, canonical.error().message);
      return std::nullopt;
    }
    return *canonical;
  }

  // Creates a table in the check catalog the first time a bind needs it. Done lazily so
  // a run served from the cache never touches the engine.
  Status EnsureDeclared(const std::string& name, const std::vector<OutputColumn>& columns) {
    if (declared_.count(name)) return Status::Ok();
    size_t dot = name.find('.');
    if (auto st = tc_->Declare(name.substr(0, dot), name.substr(dot + 1), columns); !st.ok()) return st;
    declared_.insert(name);
    return Status::Ok();
  }

  BindResult BindCached(const std::string& key, const CompiledTable& t, const std::vector<OutputColumn>& declared) {
    if (cache_) {
      if (auto hit = cache_->FindBind(key)) return *hit;
    }
    const TableDef& def = cp_->def(t);
    for (const auto& up : SqlUpstreams(t)) {
      if (auto st = EnsureDeclared(up, *cp_->SchemaOf(up)); !st.ok()) {
        return BindResult{false, {}, "cannot declare '" + up + "' for the type-check: " + st.error().message, -1,
                          false, tc_->IsTransient(st.error())};
      }
    }
    if (t.reads_itself) {
      // Its previous contents have the declared columns.
      declared_.erase(def.qualified_name());
      if (auto st = EnsureDeclared(def.qualified_name(), declared); !st.ok()) {
        return BindResult{false, {}, st.error().message, -1, false, tc_->IsTransient(st.error())};
      }
      declared_.erase(def.qualified_name());
    }
    BindResult r = tc_->Bind(t.sql, def.dataset);
    if (r.ok && t.initial_sql != t.sql) {
      BindResult initial = tc_->Bind(t.initial_sql, def.dataset);
      if (!initial.ok) {
        r = initial;
        r.error = "(in the initial-build SQL) " + r.error;
        r.error_in_initial_sql = true;
      } else if (initial.columns != r.columns) {
        r.ok = false;
        r.error = "the initial-build SQL returns different columns than the incremental SQL";
      }
    }
    if (cache_ && !r.transient) cache_->PutBind(key, r);
    return r;
  }

  // What the table's SQL reads (its bind needs these), not what only its tests read.
  static std::vector<std::string> SqlUpstreams(const CompiledTable& t) {
    std::vector<std::string> out;
    for (const auto& e : t.edges) {
      if (e.kind == EdgeKind::kSql) out.push_back(e.name);
    }
    return out;
  }

  // Binds a custom test against the catalog, where the table has the schema just
  // inferred for it. A test reading a table of unknown schema is not bound.
  void CheckCustomTest(const CompiledTable& t, const CompiledTest& test) {
    if (!test.parsed) return;
    const TableDef& def = cp_->def(t);
    std::vector<std::pair<std::string, const std::vector<OutputColumn>*>> reads;
    if (test.reads_itself) reads.emplace_back(def.qualified_name(), &*t.schema);
    for (const auto& name : test.reads) {
      const std::vector<OutputColumn>* schema = cp_->SchemaOf(name);
      if (!schema) return;
      reads.emplace_back(name, schema);
    }
    Hasher key;
    key.Add("test-v1").Add(tc_->engine()).Add(def.dataset).Add(test.sql);
    for (const auto& [name, schema] : reads) {
      key.Add(name);
      for (const auto& c : *schema) key.Add(c.name).Add(c.type);
    }
    std::optional<BindResult> cached = cache_ ? cache_->FindBind(key.Hex()) : std::nullopt;
    BindResult r;
    if (cached) {
      r = *cached;
    } else {
      for (const auto& [name, schema] : reads) {
        if (name == def.qualified_name()) declared_.erase(name);  // it may hold its declared columns
        if (auto st = EnsureDeclared(name, *schema); !st.ok()) {
          r = BindResult{false, {}, "cannot declare '" + name + "' for the type-check: " + st.error().message, -1,
                         false};
          break;
        }
      }
      if (r.ok) r = tc_->Bind(test.sql, def.dataset);
      if (cache_) cache_->PutBind(key.Hex(), r);
    }
    if (r.ok) return;
    const TestDef& test_def = def.tests[test.index];
    Location where = test.placement->Place(test.placement->first_line(), 0);
    std::string note;
    int64_t offset = r.error_offset >= 0 ? r.error_offset : GuessErrorOffset(r.error, test.sql);
    if (offset >= 0) {
      if (auto rendered = cp_->RenderTest(t, test_def, t.window); rendered.ok() && rendered->sql() == test.sql) {
        SqlOrigin o = rendered->OriginAt(static_cast<size_t>(offset));
        where = o.where;
        note = o.Note();
      }
    }
    cp_->diags.AddError(where, fmt::format("custom test '{}': type-check failed: {}{}", test_def.name,
                                           TidyEngineMessage(r.error), note));
  }

  void NoteUnchecked(const TableDef& def, const std::string& upstream) {
    const SourceDef* s = cp_->project.FindSource(upstream);
    if (s && s->columns.empty() && warned_.insert(upstream).second) {
      cp_->diags.AddWarning({s->file, 1, 1}, fmt::format("source '{}' declares no columns, so the tables reading "
                                                         "it (such as '{}') are not type-checked",
                                                         upstream, def.qualified_name()));
    }
  }

  // Checks the inferred output against the declaration and every column the config names.
  bool CheckOutput(const TableDef& def, const std::vector<OutputColumn>& out, const std::vector<OutputColumn>& declared) {
    size_t before = cp_->diags.error_count();
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& c : out) {
      if (!seen.insert(c.name).second) {
        cp_->diags.AddError(def.LocationOf("sql"), fmt::format("the query returns column '{}' more than once", c.name));
      }
      if (!IsIdentifierName(c.name)) {
        cp_->diags.AddError(def.LocationOf("sql"),
                            fmt::format("output column '{}' needs a name: add an alias with AS", c.name));
      }
      names.push_back(c.name);
    }
    auto type_of = [&](const std::string& name) -> const std::string* {
      for (const auto& c : out)
        if (c.name == name) return &c.type;
      return nullptr;
    };
    for (const auto& c : def.columns) {
      const std::string* actual = type_of(c.name);
      if (!actual) {
        cp_->diags.AddError(c.where, fmt::format("declared column '{}' is not returned by the query{}", c.name,
                                                 DidYouMean(c.name, names)));
        continue;
      }
      for (const auto& d : declared) {
        if (d.name == c.name && !tc_->TypeFits(d.type, *actual)) {
          cp_->diags.AddError(c.where, fmt::format("column '{}' is declared {} but the query returns {}: change the "
                                                   "declared type or CAST it in the SQL",
                                                   c.name, d.type, *actual));
        }
      }
    }
    auto require = [&](const std::string& column, const Location& where, const std::string& what) {
      if (!column.empty() && !type_of(column)) {
        cp_->diags.AddError(where, fmt::format("{} '{}' is not a column the query returns{}", what, column,
                                               DidYouMean(column, names)));
      }
    };
    require(def.time_column, def.LocationOf("time_column"), "time_column");
    for (const auto& c : def.partition_by) require(c, def.LocationOf("partition_by"), "partition_by column");
    for (const auto& c : def.cluster_by) require(c, def.LocationOf("cluster_by"), "cluster_by column");
    for (const auto& k : def.merge.keys) require(k, def.merge.where, "merge key");
    for (const auto& [col, rule] : def.merge.rules) require(col, def.merge.where, "merge rule column");
    for (const auto& test : def.tests) {
      for (const auto& c : test.columns) require(c, test.where, std::string(TestKindName(test.kind)) + " column");
      if (test.kind == TestDef::Kind::kRelationships) CheckRelationship(test);
    }
    return cp_->diags.error_count() == before;
  }

  void CheckRelationship(const TestDef& test) {
    const std::string& target = test.to_table;
    if (!cp_->project.FindTable(target) && !cp_->project.FindSource(target)) {
      // The closest name; a table of that name in another dataset first.
      std::vector<std::string> names, same_name;
      std::string bare = target.substr(target.find('.') + 1);
      for (const auto& t : cp_->project.tables) names.push_back(t.qualified_name());
      for (const auto& src : cp_->project.sources) names.push_back(src.qualified_name());
      for (const auto& n : names) {
        if (EndsWith(n, "." + bare)) same_name.push_back(n);
      }
      std::string hint = same_name.size() == 1 ? fmt::format(" (did you mean '{}'?)", same_name[0])
                                               : DidYouMean(target, names);
      cp_->diags.AddError(test.where, fmt::format("relationships test refers to unknown table '{}'{}", test.to_table,
                                                  hint));
      return;
    }
    const std::vector<OutputColumn>* schema = cp_->SchemaOf(target);
    if (!schema) return;
    std::vector<std::string> columns;
    for (const auto& c : *schema) {
      if (c.name == test.to_column) return;
      columns.push_back(c.name);
    }
    cp_->diags.AddError(test.where, fmt::format("relationships test: '{}' has no column '{}'{}", target, test.to_column,
                                                DidYouMean(test.to_column, columns)));
  }

  static bool IsIdentifierName(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
  }

  CompiledProject* cp_;
  std::string transient_;
  CompileCache* cache_;
  TypeChecker* tc_;
  std::set<std::string> warned_;
  std::set<std::string> declared_;  // names created in the check catalog
};

}  // namespace

Status TypeCheckTables(CompiledProject* cp, const std::vector<int>& order, CompileCache* cache) {
  auto tc = CreateTypeChecker(cp->project);
  if (!tc.ok()) {
    if (cp->project.warehouse.engine == WarehouseEngine::kPostgres) {
      // The server is unreachable: that is no verdict on any table.
      return Error("cannot type-check against the warehouse: " + tc.error().message);
    }
    cp->diags.AddError({"derived.yaml", 1, 1}, "cannot start the type-checker: " + tc.error().message);
    return Status::Ok();
  }
  Checker checker(cp, cache, tc->get());
  checker.DeclareSources();
  for (const CompiledTable& t : cp->tables) {
    if (t.unparsed_at && (*tc)->Accepts(t.unparsed_initial ? t.initial_sql : t.sql)) {
      cp->diags.AddError(*t.unparsed_at,
                         fmt::format("{} accepts this query, but Derived finds what every query reads with DuckDB's "
                                     "parser, which cannot read it: write this part in SQL that both accept",
                                     (*tc)->engine() == "postgres" ? "PostgreSQL" : (*tc)->engine()));
    }
  }
  for (int id : order) {
    if (cp->graph.node(id).kind != NodeKind::kTable) continue;
    const TableDef* def = cp->project.FindTable(cp->graph.node(id).name);
    if (!def) continue;
    checker.Check(cp->tables[static_cast<size_t>(def - cp->project.tables.data())]);
    if (!checker.transient().empty()) {
      return Error("the type-check could not finish, nothing was judged: the warehouse did not answer for " +
                   checker.transient());
    }
  }
  return Status::Ok();
}

}  // namespace derived::compile_internal
