#include "sql/column_lineage.h"

#include <simdjson.h>

#include <algorithm>
#include <set>

#include "util/strings.h"

namespace derived::sql {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using Sources = std::set<ColumnSource>;

std::string_view Str(const element& e, std::string_view key) {
  std::string_view v;
  if (e.at_key(key).get(v) != simdjson::SUCCESS) return {};
  return v;
}

bool Has(const element& e, std::string_view key, element* out) {
  return e.is_object() && e.at_key(key).get(*out) == simdjson::SUCCESS;
}

std::vector<std::string> Strings(const element& e, std::string_view key) {
  std::vector<std::string> out;
  element arr;
  if (!Has(e, key, &arr) || !arr.is_array()) return out;
  for (element item : array(arr)) {
    std::string_view s;
    if (item.get(s) == simdjson::SUCCESS) out.push_back(ToLower(s));
  }
  return out;
}

// A relation visible in a FROM clause, or the output of a query node.
struct Rel {
  std::string alias;
  bool known = true;               // the column list is known
  std::vector<std::string> names;  // lowercase
  std::vector<Sources> lineage;    // per column
  std::vector<std::string> notes;  // per column: why it is ambiguous, or ""
  std::string base;                // a base table whose columns are unknown: col x -> (base, x)
  std::string unknown_note;        // why the columns are not known

  void Add(std::string name, Sources src, std::string note = "") {
    names.push_back(std::move(name));
    lineage.push_back(std::move(src));
    notes.push_back(std::move(note));
  }
};

struct Scope {
  std::vector<Rel> rels;
  const Rel* select_so_far = nullptr;  // earlier select-list aliases (lateral column aliases)
  const Scope* parent = nullptr;       // for correlated subqueries
};

struct CteEnv {
  std::vector<std::pair<std::string, Rel>> items;
  const CteEnv* parent = nullptr;
  const Rel* Find(const std::string& name) const {
    for (auto it = items.rbegin(); it != items.rend(); ++it)
      if (it->first == name) return &it->second;
    return parent ? parent->Find(name) : nullptr;
  }
};

class LineageBuilder {
 public:
  explicit LineageBuilder(const SchemaLookup& schemas) : schemas_(schemas) {}

  // Evaluates a query node (SELECT, set operation, recursive CTE) to its output relation.
  Rel Node(const element& node, const Scope* outer, const CteEnv* env) {
    CteEnv local{{}, env};
    element ctes;
    if (Has(node, "cte_map", &ctes)) BindCtes(ctes, outer, &local);
    std::string_view type = Str(node, "type");
    if (type == "SELECT_NODE") return Select(node, outer, &local);
    element left, right;
    if ((type == "SET_OPERATION_NODE" || type == "RECURSIVE_CTE_NODE") && Has(node, "left", &left) &&
        Has(node, "right", &right)) {
      Rel l = Node(left, outer, &local);
      CteEnv self{{}, &local};
      if (type == "RECURSIVE_CTE_NODE") self.items.emplace_back(ToLower(Str(node, "cte_name")), l);
      Rel r = Node(right, outer, &self);
      return Union(std::move(l), r);
    }
    Rel unknown;
    unknown.known = false;
    unknown.unknown_note = "unsupported query form " + std::string(type);
    return unknown;
  }

 private:
  void BindCtes(const element& cte_map, const Scope* outer, CteEnv* env) {
    element entries;
    if (!Has(cte_map, "map", &entries) || !entries.is_array()) return;
    for (element entry : array(entries)) {
      std::string name = ToLower(Str(entry, "key"));
      element query, node;
      if (!Has(entry, "value", &query) || !Has(query, "query", &query) || !Has(query, "node", &node)) continue;
      Rel r = Node(node, outer, env);  // sees earlier CTEs only, not itself
      r.alias = name;
      ApplyColumnAliases(Strings(query, "aliases"), &r);
      env->items.emplace_back(name, std::move(r));
    }
  }

  static Rel Union(Rel l, const Rel& r) {
    if (!l.known || !r.known || l.names.size() != r.names.size()) {
      Rel u;
      u.known = false;
      u.unknown_note = !l.known ? l.unknown_note : !r.known ? r.unknown_note : "set operation sides differ in width";
      return u;
    }
    for (size_t i = 0; i < l.names.size(); ++i) {
      l.lineage[i].insert(r.lineage[i].begin(), r.lineage[i].end());
      if (l.notes[i].empty()) l.notes[i] = r.notes[i];
    }
    return l;
  }

  static void ApplyColumnAliases(const std::vector<std::string>& aliases, Rel* r) {
    for (size_t i = 0; i < aliases.size() && i < r->names.size(); ++i) r->names[i] = aliases[i];
  }

  Rel Select(const element& node, const Scope* outer, const CteEnv* env) {
    Scope scope{{}, nullptr, outer};
    element from;
    if (Has(node, "from_table", &from)) From(from, &scope, env);
    Rel out;
    scope.select_so_far = &out;
    element list;
    if (!Has(node, "select_list", &list) || !list.is_array()) return out;
    for (element item : array(list)) {
      if (Str(item, "class") == "STAR") {
        Star(item, scope, &out);
        continue;
      }
      std::string name = ToLower(Str(item, "alias"));
      if (name.empty() && Str(item, "class") == "COLUMN_REF") {
        auto parts = Strings(item, "column_names");
        if (!parts.empty()) name = parts.back();
      }
      Sources src;
      std::string note;
      Collect(item, scope, env, {}, &src, &note);
      out.Add(name, std::move(src), note);
    }
    return out;
  }

  void Star(const element& item, const Scope& scope, Rel* out) {
    element flag;
    if (Has(item, "columns", &flag)) {
      out->known = false;
      out->unknown_note = "COLUMNS(...) selects columns by pattern";
      return;
    }
    std::string relation = ToLower(Str(item, "relation_name"));
    std::vector<std::string> exclude = Strings(item, "exclude_list");
    for (const Rel& r : scope.rels) {
      if (!relation.empty() && r.alias != relation) continue;
      if (!r.known) {
        out->known = false;
        out->unknown_note = r.unknown_note.empty() ? "SELECT * over '" + r.alias + "', whose columns are unknown"
                                                   : r.unknown_note;
        out->Add("*", r.base.empty() ? Sources{} : Sources{{r.base, "*"}}, out->unknown_note);
        continue;
      }
      for (size_t i = 0; i < r.names.size(); ++i) {
        if (std::find(exclude.begin(), exclude.end(), r.names[i]) != exclude.end()) continue;
        out->Add(r.names[i], r.lineage[i], r.notes[i]);
      }
    }
  }

  // Adds the relations of a FROM clause to `scope`.
  void From(const element& e, Scope* scope, const CteEnv* env) {
    std::string_view type = Str(e, "type");
    std::string alias = ToLower(Str(e, "alias"));
    Rel r;
    if (type == "EMPTY") return;
    if (type == "JOIN") {
      element left, right;
      if (Has(e, "left", &left)) From(left, scope, env);
      if (Has(e, "right", &right)) From(right, scope, env);
      return;
    }
    if (type == "BASE_TABLE") {
      TableRef ref{std::string(Str(e, "catalog_name")), std::string(Str(e, "schema_name")),
                   std::string(Str(e, "table_name")), 0};
      const Rel* cte = (ref.schema.empty() && ref.catalog.empty()) ? env->Find(ToLower(ref.table)) : nullptr;
      if (cte) {
        r = *cte;
      } else {
        std::string q = schemas_.Resolve(ref);
        const std::vector<std::string>* cols = q.empty() ? nullptr : schemas_.Columns(q);
        r.base = q;
        if (cols) {
          for (const auto& c : *cols) r.Add(c, {{q, c}});
        } else {
          r.known = false;
          r.unknown_note = q.empty() ? "unknown table '" + ref.ToString() + "'"
                                     : "the columns of '" + q + "' are unknown";
        }
      }
      r.alias = alias.empty() ? ToLower(ref.table) : alias;
    } else if (type == "SUBQUERY") {
      element sub, node;
      if (Has(e, "subquery", &sub) && Has(sub, "node", &node)) {
        Scope lateral{{}, nullptr, scope};  // lateral subqueries see earlier FROM items
        lateral.rels = scope->rels;
        lateral.parent = scope->parent;
        r = Node(node, &lateral, env);
      }
      r.alias = alias;
    } else {
      // Table functions, VALUES lists, PIVOT: no base-table columns we can name.
      r.known = false;
      r.unknown_note = "columns of " + std::string(type == "TABLE_FUNCTION" ? "a table function" : type) +
                       " are not known from the query text";
      r.alias = alias;
    }
    ApplyColumnAliases(Strings(e, "column_name_alias"), &r);
    scope->rels.push_back(std::move(r));
  }

  // Collects the input columns an expression reads into `src`.
  void Collect(const element& e, const Scope& scope, const CteEnv* env, const std::vector<std::string>& lambda_params,
               Sources* src, std::string* note) {
    if (e.is_array()) {
      for (element child : array(e)) Collect(child, scope, env, lambda_params, src, note);
      return;
    }
    if (!e.is_object()) return;
    std::string_view cls = Str(e, "class");
    if (cls == "COLUMN_REF") {
      ColumnRef(Strings(e, "column_names"), scope, lambda_params, src, note);
      return;
    }
    if (cls == "SUBQUERY") {
      element sub, node, child;
      if (Has(e, "subquery", &sub) && Has(sub, "node", &node)) {
        Rel r = Node(node, &scope, env);
        for (const auto& s : r.lineage) src->insert(s.begin(), s.end());
        if (!r.known && note->empty()) *note = r.unknown_note;
      }
      if (Has(e, "child", &child)) Collect(child, scope, env, lambda_params, src, note);
      return;
    }
    if (cls == "LAMBDA") {
      std::vector<std::string> params = lambda_params;
      element lhs, body;
      if (Has(e, "lhs", &lhs)) CollectNames(lhs, &params);
      if (Has(e, "expr", &body)) Collect(body, scope, env, params, src, note);
      return;
    }
    for (auto field : object(e)) Collect(field.value, scope, env, lambda_params, src, note);
  }

  static void CollectNames(const element& e, std::vector<std::string>* names) {
    if (e.is_array()) {
      for (element child : array(e)) CollectNames(child, names);
    } else if (e.is_object()) {
      if (Str(e, "class") == "COLUMN_REF") {
        auto parts = Strings(e, "column_names");
        if (!parts.empty()) names->push_back(parts.back());
      }
      for (auto field : object(e)) CollectNames(field.value, names);
    }
  }

  void ColumnRef(const std::vector<std::string>& parts, const Scope& scope, const std::vector<std::string>& lambda_params,
                 Sources* src, std::string* note) {
    if (parts.empty()) return;
    if (parts.size() == 1 && std::find(lambda_params.begin(), lambda_params.end(), parts[0]) != lambda_params.end())
      return;
    for (const Scope* s = &scope; s; s = s->parent) {
      if (Resolve(parts, *s, src, note)) return;
    }
    if (note->empty()) *note = "cannot tell which input column '" + Join(parts, ".") + "' is";
  }

  // Resolves a column reference within one scope level; false when it is not found there.
  bool Resolve(const std::vector<std::string>& parts, const Scope& s, Sources* src, std::string* note) {
    // Qualified: alias.column (or schema.table.column); otherwise a struct field access.
    if (parts.size() >= 2) {
      for (size_t skip = parts.size() >= 3 ? 1 : 0; skip + 2 <= parts.size() && skip <= 1; ++skip) {
        const std::string& alias = parts[skip];
        for (const Rel& r : s.rels) {
          if (r.alias == alias) return FromRel(r, parts[skip + 1], src, note);
        }
      }
    }
    const std::string& name = parts[0];
    std::vector<const Rel*> known_hits, unknown;
    for (const Rel& r : s.rels) {
      if (r.known) {
        if (std::find(r.names.begin(), r.names.end(), name) != r.names.end()) known_hits.push_back(&r);
      } else {
        unknown.push_back(&r);
      }
    }
    if (!known_hits.empty()) {
      for (const Rel* r : known_hits) FromRel(*r, name, src, note);  // USING joins name both sides
      return true;
    }
    if (unknown.size() == 1) return FromRel(*unknown[0], name, src, note);
    if (unknown.size() > 1) {
      if (note->empty()) *note = "'" + name + "' could come from several inputs whose columns are unknown";
      return true;
    }
    if (s.select_so_far) {
      const Rel& sel = *s.select_so_far;
      for (size_t i = 0; i < sel.names.size(); ++i) {
        if (sel.names[i] == name) {
          src->insert(sel.lineage[i].begin(), sel.lineage[i].end());
          return true;
        }
      }
    }
    return false;
  }

  static bool FromRel(const Rel& r, const std::string& column, Sources* src, std::string* note) {
    if (r.known) {
      for (size_t i = 0; i < r.names.size(); ++i) {
        if (r.names[i] == column) {
          src->insert(r.lineage[i].begin(), r.lineage[i].end());
          if (note->empty()) *note = r.notes[i];
          return true;
        }
      }
      return false;
    }
    if (!r.base.empty()) {
      src->insert({r.base, column});
    } else if (note->empty()) {
      *note = r.unknown_note;
    }
    return true;
  }

  const SchemaLookup& schemas_;
};

}  // namespace

QueryLineage ComputeLineage(const simdjson::dom::element& statement, const SchemaLookup& schemas) {
  LineageBuilder b(schemas);
  QueryLineage out;
  element node;
  if (!Has(statement, "node", &node)) {
    out.columns_known = false;
    return out;
  }
  CteEnv root;
  Rel r = b.Node(node, nullptr, &root);
  out.columns_known = r.known;
  for (size_t i = 0; i < r.names.size(); ++i) {
    ColumnLineage c;
    c.name = r.names[i];
    c.inputs.assign(r.lineage[i].begin(), r.lineage[i].end());
    c.note = r.notes[i];
    c.ambiguous = !c.note.empty();
    out.columns.push_back(std::move(c));
  }
  if (!r.known && out.columns.empty()) {
    ColumnLineage c;
    c.name = "*";
    c.ambiguous = true;
    c.note = r.unknown_note;
    out.columns.push_back(std::move(c));
  }
  return out;
}

}  // namespace derived::sql
