#include "warehouse/postgres/coordination.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crash/crash_point.h"

namespace derived {
namespace {

// The server's clock, as a UTC TIMESTAMP (sessions run in UTC): every process reads the
// same one, whatever its machine's clock says.
constexpr const char* kNow = "CAST(clock_timestamp() AS TIMESTAMP)";

// The condition "a fleet member other than the owner in parameter $N is running".
std::string OtherMemberRunning(int owner_param) {
  return fmt::format("EXISTS (SELECT 1 FROM _derived.leases WHERE starts_with(table_name, '{}') AND owner <> ${} AND "
                     "expires_at > {})",
                     kFleetMemberPrefix, owner_param, kNow);
}

Result<std::map<std::string, int64_t>> Generations(const Result<Rows>& rows) {
  if (!rows.ok()) return rows.error();
  std::map<std::string, int64_t> out;
  for (const auto& r : rows->rows) out[r[0].value_or("")] = std::stoll(r[1].value_or("0"));
  return out;
}

class PostgresListener final : public CommitListener {
 public:
  explicit PostgresListener(pg::ConnectOptions options) : options_(std::move(options)) {}

  Status Connect() {
    auto c = pg::Connection::Open(options_);
    if (!c.ok()) return c.error();
    if (auto st = (*c)->Execute(fmt::format("LISTEN {}", kCommitChannel)); !st.ok()) return st;
    conn_ = std::move(*c);
    return Status::Ok();
  }

  Result<std::vector<CommitNotice>> Wait(int timeout_ms, bool* resumed) override {
    *resumed = false;
    if (!conn_ || conn_->Lost()) {
      if (auto st = Connect(); !st.ok()) return st.error();
      *resumed = true;
    }
    auto got = conn_->WaitForNotifications(timeout_ms);
    if (!got.ok()) return got.error();
    std::vector<CommitNotice> out;
    for (const auto& n : *got) {
      if (n.channel != kCommitChannel) continue;
      auto j = nlohmann::json::parse(n.payload, nullptr, false);
      if (!j.is_object() || !j.contains("table") || !j["table"].is_string()) continue;  // not ours
      CommitNotice c;
      c.table = j["table"].get<std::string>();
      c.data_version = j.value("data_version", int64_t{0});
      c.committed_at = j.value("at", 0.0);
      out.push_back(std::move(c));
    }
    return out;
  }

 private:
  pg::ConnectOptions options_;
  std::unique_ptr<pg::Connection> conn_;
};

class PostgresCoordination final : public Coordination {
 public:
  PostgresCoordination(std::unique_ptr<pg::Connection>* conn, std::function<Status()> reconnected,
                       pg::ConnectOptions options)
      : conn_(conn), reconnected_(std::move(reconnected)), options_(std::move(options)) {}

  Result<std::map<std::string, int64_t>> Acquire(const std::vector<std::string>& tables, const std::string& owner,
                                                 double seconds, bool steal) override {
    if (tables.empty()) return std::map<std::string, int64_t>();
    std::vector<std::string> sorted = tables;
    std::sort(sorted.begin(), sorted.end());  // rows locked in one order: no deadlock between takers
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    const std::string sql = fmt::format(
        "INSERT INTO _derived.leases AS l (table_name, owner, generation, expires_at, acquired_at, renewed_at) "
        "SELECT w.t, $2, 1, n.t + $3 * INTERVAL '1 second', n.t, n.t FROM unnest($1::text[]) AS w(t), "
        "(SELECT {} AS t) AS n ORDER BY w.t "
        "ON CONFLICT (table_name) DO UPDATE SET owner = EXCLUDED.owner, generation = l.generation + 1, "
        "expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at, renewed_at = EXCLUDED.renewed_at "
        "WHERE l.expires_at <= EXCLUDED.acquired_at OR l.owner = EXCLUDED.owner OR $4 "
        "RETURNING table_name, generation",
        kNow);
    return Generations(Run(sql, {TextArray(sorted), owner, fmt::format("{}", seconds), steal ? "true" : "false"}));
  }

  Result<std::map<std::string, int64_t>> TakeOver(const std::vector<std::string>& tables, const std::string& from,
                                                  const std::string& owner, double seconds) override {
    if (tables.empty()) return std::map<std::string, int64_t>();
    const std::string sql = fmt::format(
        "UPDATE _derived.leases AS l SET owner = $3, generation = l.generation + 1, expires_at = {0} + $4 * "
        "INTERVAL '1 second', acquired_at = {0}, renewed_at = {0} "
        "FROM (SELECT table_name FROM _derived.leases WHERE table_name = ANY($1::text[]) AND owner = $2 "
        "ORDER BY table_name FOR UPDATE) AS theirs "
        "WHERE l.table_name = theirs.table_name AND l.owner = $2 RETURNING l.table_name, l.generation",
        kNow);
    return Generations(Run(sql, {TextArray(tables), from, owner, fmt::format("{}", seconds)}));
  }

  Result<std::map<std::string, int64_t>> Renew(const std::string& owner, double seconds) override {
    const std::string sql = fmt::format(
        // Locked in name order first (as every lease statement does, so none deadlock), then
        // updated through the key: the owner's rows only, however many leases there are.
        "UPDATE _derived.leases SET expires_at = {0} + $2 * INTERVAL '1 second', renewed_at = {0} "
        "WHERE table_name = ANY(ARRAY(SELECT table_name FROM _derived.leases WHERE owner = $1 ORDER BY table_name "
        "FOR UPDATE)) RETURNING table_name, generation",
        kNow);
    return Generations(Run(sql, {owner, fmt::format("{}", seconds)}));
  }

  Status Release(const std::vector<std::string>& tables, const std::string& owner) override {
    if (tables.empty()) return Status::Ok();
    std::vector<std::string> sorted = tables;
    std::sort(sorted.begin(), sorted.end());
    auto rows = Run(fmt::format("UPDATE _derived.leases SET expires_at = {} - INTERVAL '1 second' WHERE owner = $2 "
                                "AND table_name = ANY($1::text[])",
                                kNow),
                    {TextArray(sorted), owner});
    if (!rows.ok()) return rows.error();
    return Status::Ok();
  }

  Result<bool> Holds(const std::string& table, const LeaseToken& token) override {
    auto rows = Run("SELECT owner, generation FROM _derived.leases WHERE table_name = $1", {table});
    if (!rows.ok()) return rows.error();
    if (rows->size() != 1) return false;
    return rows->at(0, 0).value_or("") == token.owner &&
           std::stoll(rows->at(0, 1).value_or("0")) == token.generation;
  }

  Result<std::vector<LeaseRow>> Leases(const std::vector<std::string>* tables) override {
    std::string sql = fmt::format(
        "SELECT table_name, owner, generation, EXTRACT(EPOCH FROM expires_at - {}) FROM _derived.leases", kNow);
    std::vector<std::optional<std::string>> params;
    if (tables) {
      sql += " WHERE table_name = ANY($1::text[])";
      params.push_back(TextArray(*tables));
    }
    auto rows = Run(sql + " ORDER BY table_name", params);
    if (!rows.ok()) return rows.error();
    std::vector<LeaseRow> out;
    for (const auto& r : rows->rows) {
      out.push_back({r[0].value_or(""), r[1].value_or(""), std::stoll(r[2].value_or("0")),
                     std::stod(r[3].value_or("0"))});
    }
    return out;
  }

  Result<std::optional<FleetVersion>> AgreedVersion(bool sequence_only) override {
    auto rows = Run(fmt::format("SELECT sequence, content, git_commit, proposed_by{} FROM _derived.project_versions "
                                "ORDER BY sequence DESC LIMIT 1",
                                sequence_only ? "" : ", hashes::text"),
                    {});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<FleetVersion>();
    FleetVersion v;
    v.sequence = std::stoll(rows->at(0, 0).value_or("0"));
    v.content = rows->at(0, 1).value_or("");
    v.commit = rows->at(0, 2).value_or("");
    v.proposed_by = rows->at(0, 3).value_or("");
    if (!sequence_only) {
      auto j = nlohmann::json::parse(rows->at(0, 4).value_or("{}"), nullptr, false);
      if (!j.is_object()) return Error("_derived.project_versions: the newest row's hashes are not a JSON object");
      for (const auto& [table, hash] : j.items()) {
        if (hash.is_string()) v.hashes[table] = hash.get<std::string>();
      }
    }
    return std::optional<FleetVersion>(std::move(v));
  }

  Result<std::optional<int64_t>> SequenceOf(const std::string& content) override {
    auto rows = Run("SELECT max(sequence) FROM _derived.project_versions WHERE content = $1", {content});
    if (!rows.ok()) return rows.error();
    if (!rows->at(0, 0)) return std::optional<int64_t>();
    return std::optional<int64_t>(std::stoll(*rows->at(0, 0)));
  }

  Result<bool> OthersRunning(const std::string& owner) override {
    auto rows = Run("SELECT " + OtherMemberRunning(1), {owner});
    if (!rows.ok()) return rows.error();
    return rows->at(0, 0).value_or("f") == "t";
  }

  Result<FleetVersion> Propose(const FleetVersion& v, int64_t expected) override {
    nlohmann::json hashes = nlohmann::json::object();
    for (const auto& [table, hash] : v.hashes) hashes[table] = hash;
    // One statement: a second proposer of the same sequence fails on the key, or finds
    // the sequence moved, and records nothing.
    const std::string sql = fmt::format(
        "WITH cur AS (SELECT coalesce(max(sequence), 0) AS s FROM _derived.project_versions), "
        "ins AS (INSERT INTO _derived.project_versions SELECT cur.s + 1, $1, $2, $3::jsonb, $4, {} FROM cur "
        "WHERE cur.s = $5 RETURNING sequence), "
        "trim AS (UPDATE _derived.project_versions SET hashes = NULL FROM ins WHERE hashes IS NOT NULL AND "
        "_derived.project_versions.sequence <= ins.sequence - {}), "
        "note AS (SELECT pg_notify('{}', json_build_object('table', $6::text, 'data_version', ins.sequence)::text) "
        "FROM ins) SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM note)",
        kNow, kVersionsWithHashes, kCommitChannel);
    auto rows = Run(sql, {v.content, v.commit.empty() ? std::nullopt : std::optional<std::string>(v.commit),
                          hashes.dump(), v.proposed_by, fmt::format("{}", expected),
                          std::string(kProjectVersionNotice)});
    // unique_violation: another process took this sequence first.
    if (!rows.ok() && rows.error().code != "23505") return rows.error();
    auto agreed = AgreedVersion(false);
    if (!agreed.ok()) return agreed.error();
    if (!agreed->has_value()) return Error("no project version was recorded in _derived.project_versions");
    return std::move(**agreed);
  }

  Result<bool> AgreedDefines(const std::string& table, const std::string& definition_hash, const std::string& owner,
                             std::string* agreed) override {
    auto rows = Run("SELECT hashes ->> $1, sequence, coalesce(git_commit, ''), proposed_by FROM "
                    "_derived.project_versions WHERE " + OtherMemberRunning(2) + " ORDER BY sequence DESC LIMIT 1",
                    {table, owner});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return true;  // no version agreed, or no other member running
    if (rows->at(0, 0) == std::optional<std::string>(definition_hash)) return true;
    *agreed = fmt::format("version {}{} (loaded by {}) {}", rows->at(0, 1).value_or(""),
                          rows->at(0, 2).value_or("").empty() ? "" : ", commit " + rows->at(0, 2)->substr(0, 12),
                          rows->at(0, 3).value_or(""),
                          rows->at(0, 0) ? "defines it differently" : "does not define it");
    return false;
  }

  Status NotifyCommit(const std::string& table, int64_t data_version, double committed_at) override {
    nlohmann::json j = {{"table", table}, {"data_version", data_version}, {"at", committed_at}};
    auto rows = Run(fmt::format("SELECT pg_notify('{}', $1)", kCommitChannel), {j.dump()});
    if (!rows.ok()) return rows.error();
    return Status::Ok();
  }

  Result<std::unique_ptr<CommitListener>> Listen() override {
    auto l = std::make_unique<PostgresListener>(options_);
    if (auto st = l->Connect(); !st.ok()) return st.error();
    return std::unique_ptr<CommitListener>(std::move(l));
  }

 private:
  Result<Rows> Run(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    if (auto st = reconnected_(); !st.ok()) return st.error();
    return crash::AtStatement(sql, [&] { return (*conn_)->Query(sql, params); });
  }

  std::unique_ptr<pg::Connection>* conn_;
  std::function<Status()> reconnected_;
  pg::ConnectOptions options_;
};

}  // namespace

std::string_view PostgresFleetTablesSql() {
  return "CREATE TABLE IF NOT EXISTS _derived.leases (table_name VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, "
         "generation BIGINT NOT NULL, expires_at TIMESTAMP NOT NULL, acquired_at TIMESTAMP NOT NULL, "
         "renewed_at TIMESTAMP NOT NULL);"
         // A renewal touches its owner's leases only: the size of its share, not of the DAG.
         "CREATE INDEX IF NOT EXISTS leases_by_owner ON _derived.leases (owner);"
         "CREATE TABLE IF NOT EXISTS _derived.project_versions (sequence BIGINT PRIMARY KEY, content VARCHAR NOT "
         "NULL, git_commit VARCHAR, hashes JSONB, proposed_by VARCHAR NOT NULL, proposed_at TIMESTAMP NOT NULL)";
}

std::unique_ptr<Coordination> NewPostgresCoordination(std::unique_ptr<pg::Connection>* conn,
                                                      std::function<Status()> reconnected,
                                                      pg::ConnectOptions options) {
  return std::make_unique<PostgresCoordination>(conn, std::move(reconnected), std::move(options));
}

std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace derived
