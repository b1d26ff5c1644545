#include "warehouse/metadata_tables.h"

#include <fmt/format.h>

namespace derived {

// Types both engines spell alike; JSON columns hold text that parses as JSON.
std::string MetadataTablesSql(std::string_view schema) {
  return fmt::format(R"(
CREATE SCHEMA IF NOT EXISTS {0};
CREATE TABLE IF NOT EXISTS {0}.log (
  run_id VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  definition_hash VARCHAR,
  operation VARCHAR NOT NULL,
  window_start TIMESTAMP,
  window_end TIMESTAMP,
  rows_inserted BIGINT,
  rows_updated BIGINT,
  rows_deleted BIGINT,
  inputs JSON,
  started_at TIMESTAMP,
  finished_at TIMESTAMP,
  logical_now TIMESTAMP,
  status VARCHAR NOT NULL,
  error VARCHAR,
  details JSON,
  git_commit VARCHAR,
  git_dirty BOOLEAN,
  derived_version VARCHAR
);
CREATE TABLE IF NOT EXISTS {0}.state (
  table_name VARCHAR NOT NULL,
  definition_hash VARCHAR,
  version BIGINT,
  data_version BIGINT,
  completed JSON,
  complete_through TIMESTAMP,
  last_status VARCHAR,
  last_error VARCHAR,
  last_run_id VARCHAR,
  consecutive_failures BIGINT,
  inputs JSON,
  config JSON,
  updated_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS {0}.source_marks (
  source_name VARCHAR NOT NULL,
  through TIMESTAMP NOT NULL,
  marked_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS {0}.files (
  source_name VARCHAR NOT NULL,
  path VARCHAR NOT NULL,
  size BIGINT NOT NULL,
  mtime_ns BIGINT NOT NULL,
  seen_ns BIGINT NOT NULL,
  hash VARCHAR,
  days JSON,
  seen_at TIMESTAMP NOT NULL
);
)",
                     schema);
}

}  // namespace derived
