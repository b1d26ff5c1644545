// The PostgreSQL warehouse (warehouse/warehouse.h): a server that many processes share.
#pragma once

#include <memory>
#include <string>

#include "warehouse/postgres/pq.h"
#include "warehouse/warehouse.h"

namespace derived {

// The options a project's connection string gives (derived.yaml's warehouse.dsn): read
// by libpq's parser; a password refused unless it is exactly password=${NAME}; then each
// ${NAME} replaced by the environment variable's value inside its own option, so a
// value can neither add options nor show up in an error.
Result<pg::ConnectOptions> PostgresConnectOptions(const std::string& dsn);

// Connects and makes the functions Derived's statements call. The error never holds a
// connection option's value.
Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const pg::ConnectOptions& options);

}  // namespace derived
