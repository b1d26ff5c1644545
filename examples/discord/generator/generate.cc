// discord_data: fills the demo's raw tables with deterministic, seedable data.
//
//   discord_data --warehouse PATH [--scale 1] [--seed 42] [--start 2024-01-01] [--days 28]
//                [--from TS --to TS] [--threads N]
//
// Without --from/--to the raw tables are recreated with the whole period [start, start+days).
// With them, only the rows whose time falls in [from, to) are replaced, so tests can land
// data hour by hour, or late, and running a range twice changes nothing.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "db/duckdb.h"
#include "model.h"
#include "time/timestamp.h"
#include "util/status.h"

namespace {

using derived::Error;
using derived::Result;
using derived::Status;
using derived::Timestamp;
namespace db = derived::db;

constexpr int64_t kDay = 86400;

struct Options {
  std::string warehouse;
  discord::ModelParams params;
  std::optional<Timestamp> from, to;  // both or neither
  int threads = 0;                    // 0: DuckDB's default
};

// Rolls back unless committed, so a failed run leaves the warehouse as it was.
class Transaction {
 public:
  explicit Transaction(db::Connection& conn) : conn_(conn) {}
  ~Transaction() {
    if (open_) (void)conn_.Execute("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin() {
    Status s = conn_.Execute("BEGIN TRANSACTION");
    open_ = s.ok();
    return s;
  }
  Status Commit() {
    open_ = false;
    return conn_.Execute("COMMIT");
  }

 private:
  db::Connection& conn_;
  bool open_ = false;
};

Error Wrap(std::string_view context, const Error& e) {
  return Error(fmt::format("{}: {}", context, e.message));
}

// Writes the span's rows of every raw table in one transaction; returns rows per table.
// whole: recreate the tables (the span is then the whole period).
Result<std::vector<int64_t>> Generate(db::Connection& conn, const discord::ModelParams& params,
                                      const discord::Span& span, bool whole) {
  Transaction txn(conn);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  if (Status s = conn.Execute("CREATE SCHEMA IF NOT EXISTS raw"); !s.ok())
    return Wrap("schema raw", s.error());
  if (Status s = conn.Execute(discord::SetupSql(params)); !s.ok())
    return Wrap("generating accounts", s.error());

  std::string from = derived::FormatSqlLiteral({params.start.seconds + span.from});
  std::string to = derived::FormatSqlLiteral({params.start.seconds + span.to});
  std::vector<int64_t> counts;
  for (const discord::RawTable& table : discord::RawTables()) {
    std::string name = fmt::format("raw.{}", table.name);
    std::string ddl;
    if (whole) {
      ddl = fmt::format("CREATE OR REPLACE TABLE {} ({})", name, table.columns);
    } else {
      ddl = fmt::format("CREATE TABLE IF NOT EXISTS {} ({}); DELETE FROM {}", name, table.columns, name);
      if (!table.time_column.empty()) {
        ddl += fmt::format(" WHERE {} >= {} AND {} < {}", table.time_column, from, table.time_column, to);
      }
    }
    if (Status s = conn.Execute(ddl); !s.ok()) return Wrap(name, s.error());
    auto inserted = conn.Query(fmt::format("INSERT INTO {} {}", name, discord::Select(table, params, span)));
    if (!inserted.ok()) return Wrap(name, inserted.error());
    // An INSERT returns one row: the number of rows it wrote.
    counts.push_back(inserted->size() == 1 && inserted->at(0, 0) ? std::stoll(*inserted->at(0, 0)) : 0);
  }
  if (Status s = txn.Commit(); !s.ok()) return s.error();
  return counts;
}

// Checks what CLI11 cannot; the message names the option at fault.
Status Validate(const Options& o) {
  if (!(o.params.scale > 0) || !std::isfinite(o.params.scale)) {
    return Error(fmt::format("--scale must be a positive number, got {}", o.params.scale));
  }
  if (o.params.days <= 0 || o.params.days > 100 * 366) {
    return Error(fmt::format("--days must be between 1 and 36600, got {}", o.params.days));
  }
  if (o.from.has_value() != o.to.has_value())
    return Error("--from and --to go together: give both or neither");
  if (o.from && *o.from >= *o.to) {
    return Error(fmt::format("--from ({}) must be before --to ({})", derived::FormatIso(*o.from),
                             derived::FormatIso(*o.to)));
  }
  return Status::Ok();
}

Result<Timestamp> ParseTimeOption(const std::string& text, std::string_view option) {
  auto ts = derived::ParseTimestamp(text);
  if (!ts.ok()) return Error(fmt::format("{}: {}", option, ts.error().message));
  return *ts;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fills the Discord demo's raw tables with deterministic, seedable data."};
  Options o;
  std::string start = "2024-01-01", from, to;
  app.add_option("--warehouse", o.warehouse, "DuckDB database file to write (created if missing)")
      ->required();
  app.add_option("--scale", o.params.scale,
                 "Size multiplier: about 2,000 users and 300,000 messages per 28 days at 1")
      ->capture_default_str();
  app.add_option("--seed", o.params.seed, "Seed: the same seed and scale give the same data")
      ->capture_default_str();
  app.add_option("--start", start, "Start of the period (UTC), e.g. 2024-01-01")->capture_default_str();
  app.add_option("--days", o.params.days, "Length of the period in days")->capture_default_str();
  app.add_option("--from", from, "Only replace rows whose time is at or after this (needs --to)");
  app.add_option("--to", to, "... and before this");
  app.add_option("--threads", o.threads,
                 "DuckDB threads (default: one per core); the data does not depend on it")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto fail = [](const Error& e, int code) {
    std::cerr << "discord_data: error: " << e.message << "\n";
    return code;
  };
  auto start_ts = ParseTimeOption(start, "--start");
  if (!start_ts.ok()) return fail(start_ts.error(), 2);
  o.params.start = *start_ts;
  for (auto [text, option, out] : {std::tuple{&from, "--from", &o.from}, std::tuple{&to, "--to", &o.to}}) {
    if (text->empty()) continue;
    auto ts = ParseTimeOption(*text, option);
    if (!ts.ok()) return fail(ts.error(), 2);
    *out = *ts;
  }
  if (Status s = Validate(o); !s.ok()) return fail(s.error(), 2);

  bool whole = !o.from;
  discord::Span span{0, o.params.days * kDay};
  if (!whole) span = {o.from->seconds - o.params.start.seconds, o.to->seconds - o.params.start.seconds};

  auto began = std::chrono::steady_clock::now();
  db::OpenOptions options;
  if (o.threads > 0) options.config["threads"] = std::to_string(o.threads);
  auto database = db::Database::Open(o.warehouse, options);
  if (!database.ok()) return fail(database.error(), 1);
  auto conn = db::Connection::Open(**database);
  if (!conn.ok()) return fail(conn.error(), 1);
  auto counts = Generate(**conn, o.params, span, whole);
  if (!counts.ok()) return fail(counts.error(), 1);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

  std::string rows;
  for (size_t i = 0; i < counts->size(); ++i) {
    rows += fmt::format("{}{} {}", i ? ", " : "", discord::RawTables()[i].name, (*counts)[i]);
  }
  std::cout << fmt::format("discord_data: seed {} scale {}: {} rows in [{}, {}) {} {} in {:.2f}s\n",
                           o.params.seed, o.params.scale, rows,
                           derived::FormatIso({o.params.start.seconds + span.from}),
                           derived::FormatIso({o.params.start.seconds + span.to}),
                           whole ? "written to" : "replaced in", o.warehouse, elapsed);
  return 0;
}
