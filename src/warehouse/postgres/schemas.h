// The schemas Derived writes into on PostgreSQL: a dataset's, made when missing, and the
// metadata schema `_derived`, used only when its owner is trusted, with the guard
// function the strategy writers call and one state row per table.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"
#include "warehouse/postgres/pq.h"

namespace derived {

// Makes `schema` unless it is there; `what` says what needs it ("the dataset core"). A
// role without CREATE on the database is told so, naming the database, the role and the
// way out. Another process making it at the same moment is no error. Inside a
// transaction the attempt runs under a savepoint, so a failure leaves it usable.
Status CreateSchemaIfMissing(pg::Connection& conn, const std::string& schema, std::string_view what);

// When `_derived` exists: an error unless it is owned by a role the current user trusts
// (itself, a role it is a member of, or a superuser) and no other role may create
// objects in it. Whoever can create there could plant a table, trigger or function that
// Derived's statements would then run. Nothing to do when it does not exist.
Status CheckMetadataSchemaTrusted(pg::Connection& conn);

// Makes `_derived` (checked as above) and the guard function _derived.raise_error, or
// checks that the one there is Derived's own.
Status EnsureFunctions(pg::Connection& conn);

// Before the unique index on _derived.state (table_name) is made: an error naming the
// tables that have more than one state row (a schema written by an older version or by
// hand), which the index cannot hold. Derived never deletes them itself.
Status RefuseDuplicateStateRows(pg::Connection& conn);

}  // namespace derived
