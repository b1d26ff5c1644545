// The run-time checks of a table's columns, before anything is written: the query's
// output against the declaration, and against the table it writes into.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/model.h"
#include "sql/column.h"
#include "util/status.h"

namespace derived {

class Warehouse;

// Every declared column is returned by the query with a type that fits its declared
// one (in the engine's canonical spelling), and the time column and merge keys are
// returned. Returns the declared types by column, canonical, for the writers' casts;
// otherwise one error listing every problem, naming the table's file.
Result<std::map<std::string, std::string>> CheckDeclaredColumns(Warehouse& wh, const TableDef& def,
                                                                const std::vector<OutputColumn>& returned);

// The query returns the same column names as the existing table has (a new column or
// a dropped one is a definition change, which rebuilds). `existing` is empty when the
// table does not exist.
Status CheckSameColumns(const TableDef& def, const std::vector<OutputColumn>& returned,
                        const std::vector<OutputColumn>& existing);

}  // namespace derived
