// The PostgreSQL warehouse (warehouse/warehouse.h): a server that many processes share.
#pragma once

#include <memory>
#include <string>

#include "warehouse/warehouse.h"

namespace derived {

// Connects with a libpq connection string (already expanded: no ${NAME} left) and makes
// the functions Derived's statements call. The error never holds the connection string.
Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const std::string& dsn);

}  // namespace derived
