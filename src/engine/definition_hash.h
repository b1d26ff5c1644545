// What identifies a table's definition, in two parts: what changes its rows or columns
// (a change rebuilds it) and what only describes it (a change updates its metadata).
#pragma once

#include <string>

#include "config/model.h"

namespace derived {

// The table's SQL as rendered for one fixed window, both variants (so macros and vars
// count, and `now` does not), and every setting that changes rows or columns.
// Description, owner, tags and tests are left out: changing them rebuilds nothing.
std::string DefinitionHash(const TableDef& def, const std::string& sql, const std::string& initial_sql);

// What the rest of a definition says: description, owner, tags, column descriptions and
// tests. A change here updates the table's metadata and rebuilds nothing.
std::string MetadataHash(const TableDef& def);
// The tests alone: what a shadow environment must run again when only they change.
std::string TestsHash(const TableDef& def);

}  // namespace derived
