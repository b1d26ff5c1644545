// Sources without `location:` are tables already in the warehouse. When the warehouse
// file exists, `derived validate` checks that each of them is there, reading the
// warehouse's catalog once through a read-only connection.
#pragma once

#include <string>

#include "config/model.h"
#include "util/diagnostics.h"

namespace derived {

enum class WarehouseCheck {
  kChecked,         // the catalog was read; missing sources are in the diagnostics
  kNothingToCheck,  // no warehouse-table source, a warehouse that is not a DuckDB file
  kNoWarehouse,     // the warehouse file does not exist yet: nothing can be missing
  kInUse,           // another process (a running `derived run`) holds the file
  kUnreadable,      // it could not be opened or read; `note` says why
};

struct WarehouseCheckResult {
  WarehouseCheck outcome = WarehouseCheck::kNothingToCheck;
  std::string note;  // for kInUse and kUnreadable: one short line for the user
};

// Adds an error at the source's file for each warehouse-table source whose table (or
// view) is missing from the warehouse, with a did-you-mean over the tables that exist in
// its schema. Never writes to the warehouse, and never fails because of it.
// REQUIRES: not called from a process that has the warehouse open (the service).
WarehouseCheckResult CheckWarehouseSources(const Project& project, Diagnostics* diags);

}  // namespace derived
