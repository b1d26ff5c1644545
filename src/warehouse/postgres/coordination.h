// Coordination (warehouse/coordination.h) on PostgreSQL: leases in `_derived.leases`,
// timed by the server's clock_timestamp(); the fleet's project versions in
// `_derived.project_versions` (hashes as JSONB, so a commit's check reads one key);
// commit notices by NOTIFY on one channel, `derived_commits`, whose payload names the
// table (JSON), delivered at commit.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "warehouse/coordination.h"
#include "warehouse/postgres/pq.h"

namespace derived {

inline constexpr const char* kCommitChannel = "derived_commits";

// The fleet's tables, made with the other metadata tables: `_derived.leases` and
// `_derived.project_versions` (the versions agreed, newest last; the hashes of the
// newest kVersionsWithHashes kept, older rows keep only their content, for SequenceOf).
std::string_view PostgresFleetTablesSql();
inline constexpr int kVersionsWithHashes = 10;

// Over a session's connection slot (a reconnect replaces what it holds); `reconnected`
// makes a lost connection again when that is safe; `options` open a listener's own.
std::unique_ptr<Coordination> NewPostgresCoordination(std::unique_ptr<pg::Connection>* conn,
                                                      std::function<Status()> reconnected,
                                                      pg::ConnectOptions options);

// Postgres's text form of a text[] value: {"a","b"}, each element quoted and escaped.
std::string TextArray(const std::vector<std::string>& items);

}  // namespace derived
