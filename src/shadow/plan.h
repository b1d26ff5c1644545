// What a shadow environment builds (`derived shadow build`): the tables a branch defines
// differently from production (by definition hash, not by file), and everything
// downstream of them, each built into the environment's own schemas and reading the
// shadow versions of what it reads from that set and production for everything else.
// Pure: over the DAG and two maps of hashes, testable without a database.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dag/graph.h"
#include "sql/references.h"
#include "util/status.h"

namespace derived::shadow {

// An environment's name: 1 to 24 of [a-z0-9_], starting with a letter, without "__" (which
// separates the parts of its schema names). The error says which rule the name breaks.
Status CheckEnvironmentName(std::string_view env);

// The schema that holds the environment's version of `dataset`'s tables:
// shadow__ENV__DATASET. REQUIRES: CheckEnvironmentName(env) is ok.
std::string SchemaOf(std::string_view env, std::string_view dataset);

// "dataset.table" -> {"dataset", "table"}.
std::pair<std::string, std::string> SplitName(const std::string& qualified);

// kTests: the same data definition with other tests: built (and tested) alone, as its
// data, and so its readers', would be the same.
enum class Reason { kNew, kChanged, kDownstream, kTests };
std::string_view ReasonName(Reason r);  // "new", "changed", "downstream", "tests"

struct PlannedTable {
  std::string table;  // dataset.table
  Reason reason = Reason::kChanged;
  std::string because;  // kDownstream: a new or changed table upstream of it (via its first such input)
};

struct ShadowPlan {
  std::string env;
  std::vector<PlannedTable> tables;  // every upstream before its downstream
  std::vector<std::string> removed;  // in production, not on the branch: nothing to build

  bool Builds(std::string_view table) const;
  // The renames for a query of a table of `dataset` (sql::SqlParser::Redirect): every
  // planned table by its qualified name, and, unqualified, those of `dataset` itself,
  // which an unqualified name reads. Everything else stays production's.
  std::map<std::string, sql::TableRef> RedirectFor(std::string_view dataset) const;
};

// `branch`: every table the branch defines -> its definition hash; `production`: every
// table production's state records -> the hash it was built with; `tests_changed`: the
// tables whose tests the branch changed. Sources are never planned. An error when
// `graph` has a cycle or names a table `branch` does not hash.
Result<ShadowPlan> Plan(const Graph& graph, const std::map<std::string, std::string>& branch,
                        const std::map<std::string, std::string>& production, std::string_view env,
                        const std::set<std::string>& tests_changed = {});

}  // namespace derived::shadow
