#include "engine/metadata.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "util/strings.h"

namespace derived {
namespace {

const char* kSchemaSql = R"(
CREATE SCHEMA IF NOT EXISTS _derived;
CREATE TABLE IF NOT EXISTS _derived.log (
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
CREATE TABLE IF NOT EXISTS _derived.state (
  table_name VARCHAR NOT NULL,
  definition_hash VARCHAR,
  version BIGINT,
  data_version BIGINT,
  completed JSON,
  watermark TIMESTAMP,
  built_period TIMESTAMP,
  last_status VARCHAR,
  last_error VARCHAR,
  last_run_id VARCHAR,
  consecutive_failures BIGINT,
  inputs JSON,
  config JSON,
  updated_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS _derived.source_marks (
  source_name VARCHAR NOT NULL,
  through TIMESTAMP NOT NULL,
  marked_at TIMESTAMP NOT NULL
);
)";

std::string Lit(const std::string& s) { return db::QuoteLiteral(s); }
std::string OptLit(const std::string& s) { return s.empty() ? "NULL" : db::QuoteLiteral(s); }
std::string TsLit(std::optional<Timestamp> t) { return t ? FormatSqlLiteral(*t) : "NULL"; }
std::string JsonLit(const nlohmann::json& j) { return j.is_null() ? "NULL" : db::QuoteLiteral(j.dump()) + "::JSON"; }

// A wall-clock instant with microseconds, as a TIMESTAMP literal.
std::string WallLit(double seconds) {
  auto whole = static_cast<int64_t>(std::floor(seconds));
  auto micros = static_cast<int64_t>(std::llround((seconds - static_cast<double>(whole)) * 1e6));
  if (micros >= 1000000) whole += 1, micros -= 1000000;
  std::string iso = FormatIso(Timestamp{whole});  // 2024-01-03T00:00:00Z
  iso[10] = ' ';
  iso.pop_back();
  return fmt::format("TIMESTAMP '{}.{:06d}'", iso, micros);
}

std::optional<Timestamp> ParseOptTs(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto ts = ParseTimestamp(*text);
  if (!ts.ok()) return std::nullopt;
  return *ts;
}

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  if (pclose(p) != 0) return "";
  return out;
}

const char* kStateColumns =
    "table_name, definition_hash, version, data_version, completed, watermark, built_period, last_status, "
    "last_error, last_run_id, consecutive_failures, inputs, config";

Result<TableState> StateFromRow(const std::vector<std::optional<std::string>>& r) {
  TableState s;
  s.table = r[0].value_or("");
  s.definition_hash = r[1].value_or("");
  s.version = r[2] ? std::stoll(*r[2]) : 0;
  s.data_version = r[3] ? std::stoll(*r[3]) : 0;
  auto completed = IntervalSet::FromJson(r[4].value_or(""));
  if (!completed.ok()) return Error("_derived.state of " + s.table + ": " + completed.error().message);
  s.completed = std::move(*completed);
  s.watermark = ParseOptTs(r[5]);
  s.built_period = ParseOptTs(r[6]);
  s.last_status = r[7].value_or("");
  s.last_error = r[8].value_or("");
  s.last_run_id = r[9].value_or("");
  s.consecutive_failures = r[10] ? std::stoll(*r[10]) : 0;
  s.inputs = nlohmann::json::parse(r[11].value_or("{}"), nullptr, false);
  s.config = nlohmann::json::parse(r[12].value_or("{}"), nullptr, false);
  if (s.inputs.is_discarded()) s.inputs = nlohmann::json::object();
  if (s.config.is_discarded()) s.config = nlohmann::json::object();
  return s;
}

}  // namespace

double WallSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Provenance CollectProvenance(const std::string& project_root) {
  Provenance p;
  p.derived_version = DERIVED_VERSION;
  std::string q = "'" + project_root + "'";
  if (project_root.find('\'') != std::string::npos) return p;  // never hand odd paths to a shell
  p.git_commit = Trim(RunCommand("git -C " + q + " rev-parse HEAD 2>/dev/null"));
  if (!p.git_commit.empty()) {
    p.git_dirty = !Trim(RunCommand("git -C " + q + " status --porcelain -- . 2>/dev/null")).empty();
  }
  return p;
}

Status MetadataStore::EnsureSchema() { return wh_->Execute(kSchemaSql); }

Result<std::map<std::string, TableState>> MetadataStore::LoadStates() {
  auto rows = wh_->Query(fmt::format("SELECT {} FROM _derived.state", kStateColumns));
  if (!rows.ok()) return rows.error();
  std::map<std::string, TableState> out;
  for (const auto& r : rows->rows) {
    auto s = StateFromRow(r);
    if (!s.ok()) return s.error();
    out[s->table] = std::move(*s);
  }
  return out;
}

Result<std::optional<TableState>> MetadataStore::LoadState(const std::string& table) {
  auto rows =
      wh_->Query(fmt::format("SELECT {} FROM _derived.state WHERE table_name = {}", kStateColumns, Lit(table)));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<TableState>();
  auto s = StateFromRow(rows->rows[0]);
  if (!s.ok()) return s.error();
  return std::optional<TableState>(std::move(*s));
}

Status MetadataStore::SaveState(const TableState& s) { return wh_->Execute(SaveStateSql(s)); }

std::string MetadataStore::SaveStateSql(const TableState& s) const {
  // No primary key: DuckDB checks unique indexes eagerly inside a transaction, so delete
  // then insert of the same key would conflict. The delete keeps the row unique.
  std::string sql = fmt::format(
      "DELETE FROM _derived.state WHERE table_name = {0};"
      "INSERT INTO _derived.state VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13})",
      Lit(s.table), OptLit(s.definition_hash), s.version, s.data_version, Lit(s.completed.ToJson()) + "::JSON",
      TsLit(s.watermark), TsLit(s.built_period), OptLit(s.last_status), OptLit(s.last_error), OptLit(s.last_run_id),
      s.consecutive_failures, JsonLit(s.inputs), JsonLit(s.config), WallLit(WallSeconds()));
  return sql;
}

Status MetadataStore::DeleteState(const std::string& table) {
  return wh_->Execute("DELETE FROM _derived.state WHERE table_name = " + Lit(table));
}

Status MetadataStore::AppendLog(const LogEntry& e) { return wh_->Execute(AppendLogSql(e)); }

Status MetadataStore::Record(const LogEntry& entry, const TableState& state) {
  return wh_->Execute(AppendLogSql(entry) + ";\n" + SaveStateSql(state));
}

std::string MetadataStore::AppendLogSql(const LogEntry& e) const {
  std::string sql = fmt::format(
      "INSERT INTO _derived.log VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
      Lit(e.run_id), Lit(e.table), OptLit(e.definition_hash), Lit(e.operation),
      TsLit(e.window ? std::optional<Timestamp>(e.window->start) : std::nullopt),
      TsLit(e.window ? std::optional<Timestamp>(e.window->end) : std::nullopt), e.rows_inserted, e.rows_updated,
      e.rows_deleted, JsonLit(e.inputs), WallLit(e.started_at), WallLit(e.finished_at), TsLit(e.logical_now),
      Lit(e.status), OptLit(e.error), JsonLit(e.details), OptLit(provenance_.git_commit),
      provenance_.git_commit.empty() ? "NULL" : (provenance_.git_dirty ? "true" : "false"),
      Lit(provenance_.derived_version));
  return sql;
}

Result<std::map<std::string, Timestamp>> MetadataStore::LoadMarks() {
  auto rows = wh_->Query("SELECT source_name, max(through) FROM _derived.source_marks GROUP BY source_name");
  if (!rows.ok()) return rows.error();
  std::map<std::string, Timestamp> out;
  for (const auto& r : rows->rows) {
    if (auto t = ParseOptTs(r[1])) out[r[0].value_or("")] = *t;
  }
  return out;
}

Status MetadataStore::SetMark(const std::string& source, Timestamp through, Timestamp now) {
  return wh_->Execute(fmt::format("INSERT INTO _derived.source_marks VALUES ({}, {}, {})", Lit(source),
                                  FormatSqlLiteral(through), FormatSqlLiteral(now)));
}

}  // namespace derived
