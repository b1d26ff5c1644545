#include "metadata/store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "util/strings.h"
#include "warehouse/coordination.h"

namespace derived {
namespace {


std::string Lit(const std::string& s) { return QuoteLiteral(s); }

// Parameter values: empty text and missing timestamps are NULL.
Statement::Value Opt(const std::string& s) { return s.empty() ? Statement::Value() : Statement::Value(s); }

std::string SqlTime(Timestamp t) {
  std::string iso = FormatIso(t);  // 2024-01-03T00:00:00Z
  iso[10] = ' ';
  iso.pop_back();
  return iso;
}

Statement::Value TsText(std::optional<Timestamp> t) {
  return t ? Statement::Value(SqlTime(*t)) : Statement::Value();
}

// A wall-clock instant with microseconds.
std::string WallText(double seconds) {
  auto whole = static_cast<int64_t>(std::floor(seconds));
  auto micros = static_cast<int64_t>(std::llround((seconds - static_cast<double>(whole)) * 1e6));
  if (micros >= 1000000) whole += 1, micros -= 1000000;
  return fmt::format("{}.{:06d}", SqlTime(Timestamp{whole}), micros);
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
    "table_name, definition_hash, version, data_version, completed, complete_through, last_status, last_error, "
    "last_run_id, consecutive_failures, inputs, config";

Result<TableState> StateFromRow(const std::vector<std::optional<std::string>>& r) {
  TableState s;
  s.table = r[0].value_or("");
  s.definition_hash = r[1].value_or("");
  s.version = r[2] ? std::stoll(*r[2]) : 0;
  s.data_version = r[3] ? std::stoll(*r[3]) : 0;
  auto completed = IntervalSet::FromJson(r[4].value_or(""));
  if (!completed.ok()) return Error("_derived.state of " + s.table + ": " + completed.error().message);
  s.completed = std::move(*completed);
  s.complete_through = ParseOptTs(r[5]);
  s.last_status = r[6].value_or("");
  s.last_error = r[7].value_or("");
  s.last_run_id = r[8].value_or("");
  s.consecutive_failures = r[9] ? std::stoll(*r[9]) : 0;
  s.inputs = nlohmann::json::parse(r[10].value_or("{}"), nullptr, false);
  s.config = nlohmann::json::parse(r[11].value_or("{}"), nullptr, false);
  if (s.inputs.is_discarded()) s.inputs = nlohmann::json::object();
  if (s.config.is_discarded()) s.config = nlohmann::json::object();
  return s;
}

}  // namespace

double WallSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string NewRunId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
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

Status MetadataStore::EnsureSchema() {
  return schema_ == kMetaSchema ? wh_->CreateMetadataSchema() : wh_->CreateMetadataTables(schema_);
}

LogEntry LogEntry::Begin(std::string run_id, std::string table, std::string definition_hash, std::string operation,
                         Timestamp logical_now) {
  LogEntry e;
  e.run_id = std::move(run_id);
  e.table = std::move(table);
  e.definition_hash = std::move(definition_hash);
  e.operation = std::move(operation);
  e.started_at = e.finished_at = WallSeconds();
  e.logical_now = logical_now;
  return e;
}

std::string_view RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kSuccess: return "success";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kTestFailed: return "test_failed";
    case RunStatus::kSuperseded: return "superseded";
  }
  return "failed";
}

Result<std::vector<std::string>> MetadataStore::TableNames(NameSource source) {
  const bool state = source == NameSource::kState;
  auto cols = wh_->Columns(schema_, state ? "state" : "log");
  if (!cols.ok()) return cols.error();
  std::vector<std::string> names;
  if (!cols->has_value()) return names;
  auto rows = wh_->Query(state ? fmt::format("SELECT table_name FROM {}.state ORDER BY 1", schema_)
                               : fmt::format("SELECT DISTINCT table_name FROM {}.log ORDER BY 1", schema_));
  if (!rows.ok()) return rows.error();
  for (const auto& r : rows->rows) {
    if (r[0]) names.push_back(*r[0]);
  }
  return names;
}

Result<std::map<std::string, TableState>> MetadataStore::LoadStates(const std::vector<std::string>* tables) {
  std::string where;
  if (tables) {
    if (tables->empty()) return std::map<std::string, TableState>();
    std::vector<std::string> names;
    for (const auto& t : *tables) names.push_back(QuoteLiteral(t));
    where = " WHERE table_name IN (" + Join(names, ", ") + ")";
  }
  std::map<std::string, TableState> out;
  auto read = [&](const std::string& schema) -> Status {
    auto rows = wh_->Query(fmt::format("SELECT {} FROM {}.state{}", kStateColumns, schema, where));
    if (!rows.ok()) return rows.error();
    for (const auto& r : rows->rows) {
      auto s = StateFromRow(r);
      if (!s.ok()) return s.error();
      s->stored = true;
      out.emplace(s->table, std::move(*s));  // an environment's own state comes first
    }
    return Status::Ok();
  };
  if (auto st = read(schema_); !st.ok()) return st.error();
  if (schema_ == kMetaSchema) return out;
  // An environment: what it does not build is production's, when production has states.
  auto cols = wh_->Columns(kMetaSchema, "state");
  if (!cols.ok()) return cols.error();
  if (cols->has_value()) {
    if (auto st = read(kMetaSchema); !st.ok()) return st.error();
  }
  return out;
}

Result<std::map<std::string, TableState>> MetadataStore::PinStates(const std::vector<std::string>& tables) {
  if (wh_->capabilities().shared) {
    for (const auto& t : tables) {
      if (auto s = wh_->LockTable(t, Warehouse::LockMode::kShared); !s.ok()) return s.error();
    }
  }
  return LoadStates(&tables);
}

Status MetadataStore::DeleteState(const std::string& table) {
  return wh_->Execute(fmt::format("DELETE FROM {}.state WHERE table_name = {}", schema_, QuoteLiteral(table)));
}

namespace {
constexpr std::string_view kSuperseded = "superseded: another process updated ";
constexpr std::string_view kLeaseLost = "fenced off: ";
}  // namespace

bool MetadataStore::IsSuperseded(const Error& e) { return e.message.rfind(kSuperseded, 0) == 0; }
bool MetadataStore::IsFenced(const Error& e) { return e.message.rfind(kLeaseLost, 0) == 0; }

Result<std::optional<TableState>> MetadataStore::Claim(const std::string& table, const TableState& base,
                                                       const std::string* building) {
  if (!wh_->capabilities().shared) return std::optional<TableState>();
  if (auto s = wh_->LockTable(table, Warehouse::LockMode::kExclusive); !s.ok()) return s.error();
  if (fence_ && wh_->coordination()) {
    auto token = fence_->Token(table);
    if (!token) {
      return Error(fmt::format("{}{} is not leased to {}; nothing was written", kLeaseLost, table, fence_->owner()));
    }
    auto holds = wh_->coordination()->Holds(table, *token);
    if (!holds.ok()) return holds.error();
    if (!*holds) {
      return Error(fmt::format("{}another process took the lease of {} from {}; nothing was written", kLeaseLost,
                               table, fence_->owner()));
    }
    std::string agreed;
    auto defines = building ? wh_->coordination()->AgreedDefines(table, *building, fence_->owner(), &agreed) : Result<bool>(true);
    if (!defines.ok()) return defines.error();
    if (!*defines) {
      return Error(fmt::format("{}the fleet runs project {}; this process's definition of {} is another, so "
                               "nothing was written (it builds it once it loads that version)",
                               kLeaseLost, agreed, table));
    }
  }
  std::vector<std::string> names = {table};
  auto now = LoadStates(&names);
  if (!now.ok()) return now.error();
  auto it = now->find(table);
  bool same = it == now->end() ? !base.stored
                               : base.stored && it->second.version == base.version &&
                                     it->second.data_version == base.data_version &&
                                     it->second.definition_hash == base.definition_hash;
  if (same) return std::optional<TableState>();
  TableState newer;
  if (it != now->end()) newer = it->second;
  newer.table = table;
  return std::optional<TableState>(std::move(newer));
}

Status MetadataStore::SaveState(const TableState& s, const TableState& base) {
  if (auto st = Prepared(); !st.ok()) return st;
  auto newer = Claim(s.table, base);
  if (!newer.ok()) return newer.error();
  if (newer->has_value()) {
    return Error(fmt::format("{}{} since this state was read; nothing was written", kSuperseded, s.table));
  }
  std::vector<Statement::Value> values = {
      s.table,           Opt(s.definition_hash),   s.version,          s.data_version,
      s.completed.ToJson(), TsText(s.complete_through), Opt(s.last_status), Opt(s.last_error),
      Opt(s.last_run_id), s.consecutive_failures,   s.inputs.dump(),    s.config.dump(),
      WallText(WallSeconds())};
  // One row per table, without a key (DuckDB checks unique indexes eagerly inside a
  // transaction): update it, and insert it the first time. Two processes inserting the
  // first row at once are kept apart by the table's lock (Claim).
  auto updated = state_update_->Run(values);
  if (!updated.ok()) return updated.error();
  if (*updated > 0) return Announced(s, base);
  auto inserted = state_insert_->Run(values);
  if (!inserted.ok()) return inserted.error();
  return Announced(s, base);
}

Status MetadataStore::Announced(const TableState& s, const TableState& base) {
  Coordination* c = wh_->coordination();
  // An environment's tables have no readers in production.
  if (!c || s.data_version == base.data_version || schema_ != kMetaSchema) return Status::Ok();
  return c->NotifyCommit(s.table, s.data_version, WallSeconds());
}

Status MetadataStore::AppendLog(const LogEntry& e) {
  if (auto st = Prepared(); !st.ok()) return st;
  Statement::Value dirty;
  if (!provenance_.git_commit.empty()) dirty = provenance_.git_dirty;
  auto r = log_insert_->Run({e.run_id, e.table, Opt(e.definition_hash), e.operation,
                           TsText(e.window ? std::optional<Timestamp>(e.window->start) : std::nullopt),
                           TsText(e.window ? std::optional<Timestamp>(e.window->end) : std::nullopt), e.rows_inserted,
                           e.rows_updated, e.rows_deleted, e.inputs.dump(), WallText(e.started_at),
                           WallText(e.finished_at), TsText(e.logical_now), std::string(RunStatusName(e.status)), Opt(e.error),
                           e.details.is_null() ? Statement::Value() : Statement::Value(e.details.dump()),
                           Opt(provenance_.git_commit), dirty, provenance_.derived_version});
  if (!r.ok()) return r.error();
  return Status::Ok();
}

Status MetadataStore::Record(const LogEntry& entry, const TableState& next, const TableState& base) {
  if (auto st = AppendLog(entry); !st.ok()) return st;
  return SaveState(next, base);
}

Status MetadataStore::RecordFailure(const LogEntry& entry, TableState* state) {
  TableState next = *state;
  next.table = entry.table;
  next.last_status = RunStatusName(entry.status);
  next.last_error = entry.error;
  next.last_run_id = entry.run_id;
  next.consecutive_failures += 1;
  Status st = InTransaction(*wh_, [&]() -> Status { return Record(entry, next, *state); });
  if (st.ok()) {
    next.stored = true;
    *state = std::move(next);
    return st;
  }
  if (!IsSuperseded(st.error())) return st;
  // The row moved on (another process's success or failure): the attempt is still in
  // the log, and the state is that process's.
  std::optional<TableState> newer;
  st = InTransaction(*wh_, [&]() -> Status {
    if (auto s = AppendLog(entry); !s.ok()) return s;
    auto claimed = Claim(entry.table, *state);
    if (!claimed.ok()) return claimed.error();
    newer = std::move(*claimed);
    return Status::Ok();
  });
  if (st.ok() && newer) *state = std::move(*newer);
  return st;
}

// Parsed and planned once per store: every mutation writes these.
Status MetadataStore::Prepared() {
  if (log_insert_) return Status::Ok();
  auto log = wh_->Prepare(fmt::format(
      "INSERT INTO {}.log VALUES ($1, $2, $3, $4, $5::TIMESTAMP, $6::TIMESTAMP, $7, $8, $9, $10::JSON, "
      "$11::TIMESTAMP, $12::TIMESTAMP, $13::TIMESTAMP, $14, $15, $16::JSON, $17, $18, $19)",
      schema_));
  if (!log.ok()) return log.error();
  auto upd = wh_->Prepare(fmt::format(
      "UPDATE {}.state SET definition_hash = $2, version = $3, data_version = $4, completed = $5::JSON, "
      "complete_through = $6::TIMESTAMP, last_status = $7, last_error = $8, last_run_id = $9, "
      "consecutive_failures = $10, inputs = $11::JSON, config = $12::JSON, updated_at = $13::TIMESTAMP "
      "WHERE table_name = $1",
      schema_));
  if (!upd.ok()) return upd.error();
  auto ins = wh_->Prepare(fmt::format(
      "INSERT INTO {}.state VALUES ($1, $2, $3, $4, $5::JSON, $6::TIMESTAMP, $7, $8, $9, $10, $11::JSON, "
      "$12::JSON, $13::TIMESTAMP)",
      schema_));
  if (!ins.ok()) return ins.error();
  log_insert_ = std::move(*log);
  state_update_ = std::move(*upd);
  state_insert_ = std::move(*ins);
  return Status::Ok();
}

Result<std::map<std::string, std::string>> MetadataStore::LastSuccess() {
  auto rows = wh_->Query(fmt::format(
      "SELECT table_name, {} FROM {}.log WHERE status = 'success' GROUP BY table_name",
      wh_->dialect().IsoText("max(finished_at)"), schema_));
  if (!rows.ok()) return rows.error();
  std::map<std::string, std::string> out;
  for (const auto& r : rows->rows) out[r[0].value_or("")] = r[1].value_or("");
  return out;
}

Result<std::map<std::string, double>> MetadataStore::RunSeconds(Timestamp since) {
  std::map<std::string, double> out;
  auto cols = wh_->Columns(schema_, "log");
  if (!cols.ok()) return cols.error();
  if (!cols->has_value()) return out;
  auto rows = wh_->Query(fmt::format(
      "SELECT table_name, sum(EXTRACT(EPOCH FROM (finished_at - started_at))) FROM {}.log "
      "WHERE finished_at >= {} AND started_at IS NOT NULL GROUP BY table_name",
      schema_, wh_->dialect().TimestampLiteral(since)));
  if (!rows.ok()) return rows.error();
  for (const auto& r : rows->rows) {
    if (!r[0] || !r[1]) continue;
    out[*r[0]] = std::max(0.0, std::strtod(r[1]->c_str(), nullptr));
  }
  return out;
}

namespace {

// "2024-01-03 04:05:06.25" -> seconds since the epoch, with the fraction.
std::optional<double> SecondsOf(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto whole = ParseTimestamp(*text);
  if (!whole.ok()) return std::nullopt;
  double seconds = static_cast<double>(whole->seconds);
  size_t dot = text->find('.');
  if (dot != std::string::npos) seconds += std::strtod(text->substr(dot).c_str(), nullptr);
  return seconds;
}

}  // namespace

Result<Rows> MetadataStore::ReadLog(const std::string& table, int limit, bool raw) {
  const SqlDialect& d = wh_->dialect();
  std::string where = table.empty() ? "" : " WHERE table_name = " + d.Literal(table);
  std::string order = fmt::format(" ORDER BY finished_at DESC, table_name LIMIT {}", limit);
  if (raw) return wh_->Query(fmt::format("SELECT * FROM {}.log{}{}", schema_, where, order));
  auto rows = wh_->Query(fmt::format(
      "SELECT {}, table_name, operation, {}, {}, rows_inserted, rows_updated, rows_deleted, "
      "CAST(started_at AS VARCHAR), CAST(finished_at AS VARCHAR), status, error FROM {}.log{}{}",
      d.IsoText("finished_at"), d.IsoText("window_start"), d.IsoText("window_end"), schema_, where, order));
  if (!rows.ok()) return rows.error();
  Rows out;
  out.columns = {"finished", "table", "operation", "window_start", "window_end", "inserted", "updated",
                 "deleted", "seconds", "status", "error"};
  for (const auto& r : rows->rows) {
    auto started = SecondsOf(r[8]), finished = SecondsOf(r[9]);
    std::optional<std::string> seconds;
    if (started && finished) seconds = fmt::format("{:.3f}", *finished - *started);
    std::string error = r[11].value_or("");
    for (char& c : error) c = c == '\n' ? ' ' : c;
    if (error.size() > 120) error.resize(120);
    out.rows.push_back({r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], seconds, r[10], error});
  }
  out.types.assign(out.columns.size(), "VARCHAR");
  return out;
}

Result<std::vector<MetadataStore::Run>> MetadataStore::Runs(const std::string& table, std::optional<Window> range,
                                                            const std::string& before) {
  const SqlDialect& d = wh_->dialect();
  std::string where = fmt::format(
      "table_name = {} AND status = 'success' AND operation NOT IN ('validate', 'restate')", d.Literal(table));
  if (range) {
    where += fmt::format(" AND window_end > {} AND window_start < {}", d.TimestampLiteral(range->start),
                         d.TimestampLiteral(range->end));
  }
  if (!before.empty()) where += " AND finished_at <= CAST(" + d.Literal(before) + " AS TIMESTAMP)";
  auto rows = wh_->Query(fmt::format(
      "SELECT run_id, operation, {}, {}, CAST(started_at AS VARCHAR), CAST(finished_at AS VARCHAR), "
      "CAST(inputs AS VARCHAR) FROM {}.log WHERE {} ORDER BY finished_at DESC",
      d.IsoText("window_start"), d.IsoText("window_end"), schema_, where));
  if (!rows.ok()) return rows.error();
  std::vector<Run> out;
  for (const auto& r : rows->rows) {
    Run run;
    run.run_id = r[0].value_or("");
    run.operation = r[1].value_or("");
    if (r[2] && r[3]) {
      auto s = ParseTimestamp(*r[2]);
      auto e = ParseTimestamp(*r[3]);
      if (s.ok() && e.ok()) run.window = {*s, *e};
    }
    run.started_at = r[4].value_or("");
    run.finished_at = r[5].value_or("");
    run.inputs = nlohmann::json::parse(r[6].value_or("{}"), nullptr, false);
    out.push_back(std::move(run));
  }
  return out;
}

Result<std::map<std::string, Timestamp>> MetadataStore::LoadMarks() {
  std::map<std::string, Timestamp> out;
  if (schema_ != kMetaSchema) {  // production's marks, when production has any
    auto cols = wh_->Columns(kMetaSchema, "source_marks");
    if (!cols.ok()) return cols.error();
    if (!cols->has_value()) return out;
  }
  auto rows = wh_->Query("SELECT source_name, max(through) FROM _derived.source_marks GROUP BY source_name");
  if (!rows.ok()) return rows.error();
  for (const auto& r : rows->rows) {
    if (auto t = ParseOptTs(r[1])) out[r[0].value_or("")] = *t;
  }
  return out;
}

Status MetadataStore::SetMark(const std::string& source, Timestamp through, Timestamp now) {
  if (schema_ != kMetaSchema) return Error("a shadow environment reads production's sources: it marks none");
  if (auto st = wh_->Execute(fmt::format("INSERT INTO _derived.source_marks VALUES ({}, {}, {})", Lit(source),
                                         FormatSqlLiteral(through), FormatSqlLiteral(now)));
      !st.ok()) {
    return st;
  }
  // Services in other processes read the marks again at once. Only a hint: a lost one is
  // seen at their next poll, so a failure here does not fail the mark.
  if (Coordination* c = wh_->coordination()) (void)c->NotifyCommit(source, 0, WallSeconds());
  return Status::Ok();
}

}  // namespace derived

namespace derived {

// A file's day digests as JSON: {"2024-01-03T00:00:00Z": "12:8731...", "none": ...}.
namespace {

std::string DaysToJson(const std::map<int64_t, std::string>& days) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [day, digest] : days) j[day == kNoDay ? "none" : FormatIso(Timestamp{day})] = digest;
  return j.dump();
}

std::map<int64_t, std::string> DaysFromJson(const std::string& text) {
  std::map<int64_t, std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [key, digest] : j.items()) {
    if (!digest.is_string()) continue;
    if (key == "none") {
      out[kNoDay] = digest.get<std::string>();
    } else if (auto t = ParseTimestamp(key); t.ok()) {
      out[t->seconds] = digest.get<std::string>();
    }
  }
  return out;
}

}  // namespace

Result<std::vector<FileFingerprint>> MetadataStore::LoadFiles(const std::string& source) {
  auto rows = wh_->Query(fmt::format(
      "SELECT path, size, mtime_ns, seen_ns, hash, CAST(days AS VARCHAR) FROM {}.files WHERE source_name = {} "
      "ORDER BY path",
      schema_, Lit(source)));
  if (!rows.ok()) return rows.error();
  std::vector<FileFingerprint> out;
  for (const auto& r : rows->rows) {
    FileFingerprint f;
    f.path = r[0].value_or("");
    f.size = r[1] ? std::stoll(*r[1]) : 0;
    f.mtime_ns = r[2] ? std::stoll(*r[2]) : 0;
    f.seen_ns = r[3] ? std::stoll(*r[3]) : 0;
    f.hash = r[4].value_or("");
    f.days = DaysFromJson(r[5].value_or("{}"));
    out.push_back(std::move(f));
  }
  return out;
}

Status MetadataStore::SaveFiles(const std::string& source, const std::vector<FileFingerprint>& files, Timestamp now) {
  return InTransaction(*wh_, [&]() -> Status {
    if (auto st = wh_->Execute(fmt::format("DELETE FROM {}.files WHERE source_name = {}", schema_, Lit(source))); !st.ok()) return st;
    if (files.empty()) return Status::Ok();
    auto insert = wh_->Prepare(fmt::format("INSERT INTO {}.files VALUES ($1, $2, $3, $4, $5, $6, $7::JSON, $8::TIMESTAMP)", schema_));
    if (!insert.ok()) return insert.error();
    for (const auto& f : files) {
      auto r = (*insert)->Run({source, f.path, f.size, f.mtime_ns, f.seen_ns, Opt(f.hash), DaysToJson(f.days),
                               TsText(now)});
      if (!r.ok()) return r.error();
    }
    return Status::Ok();
  });
}

}  // namespace derived
