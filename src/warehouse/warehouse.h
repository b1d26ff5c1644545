// The warehouse Derived builds into, behind one interface so each engine keeps its own
// SQL. Datasets are schemas. The build engine only speaks to this interface.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/model.h"
#include "sql/column.h"
#include "sql/embed.h"
#include "time/timestamp.h"
#include "util/rows.h"
#include "util/status.h"
#include "util/typed_rows.h"
#include "warehouse/writer.h"

namespace derived {

class Coordination;

class TypeChecker;  // compile/typecheck.h

// Sources that are files outside the warehouse (`location:`), read in place by engines
// that can (DuckDB). Belongs to one session.
class FileSources {
 public:
  virtual ~FileSources() = default;
  // Creates or replaces the view of every file source. Returns, per source that could
  // not be attached (no file matches its pattern yet, unreadable files), why not; those
  // sources count as not existing until their files appear.
  virtual Result<std::map<std::string, std::string>> Attach(const Project& project) = 0;
  // The files `s`'s glob matches now (absolute paths, sorted), as its view reads them.
  virtual Result<std::vector<std::string>> List(const std::string& root, const SourceDef& s) = 0;
  // For each of `paths` (files of `s`), per UTC day of its time column (the day's start
  // in seconds; INT64_MIN for rows without a time), a digest of the rows: their count
  // and an order-independent checksum. One scan; a file without rows is missing.
  // REQUIRES: s.time_column is set.
  using DayDigests = std::map<int64_t, std::string>;
  virtual Result<std::map<std::string, DayDigests>> Digests(const SourceDef& s,
                                                            const std::vector<std::string>& paths) = 0;
};

// How a merge rule is written in one engine's SQL. Rules are described in config/model.h.
class SqlDialect {
 public:
  virtual ~SqlDialect() = default;

  // Standard SQL quoting: "a""b" and 'it''s' (an engine may spell literals its own way).
  std::string Ident(std::string_view name) const;
  virtual std::string Literal(std::string_view text) const;
  std::string Table(const std::string& dataset, const std::string& name) const {
    return Ident(dataset) + "." + Ident(name);
  }
  // A connection-local scratch table (the batch being written).
  virtual std::string TempTable(const std::string& name) const = 0;
  virtual std::string TimestampLiteral(Timestamp t) const = 0;

  // A column of a merge batch, combined over the rows of one key by its rule.
  struct BatchColumn {
    std::string name;  // quoted
    std::string type;  // the engine's spelling
    MergeRule rule;
  };
  // How a batch's rows become one row per key: the select list (after SELECT) and what
  // follows the FROM clause's subquery. `keys` are quoted; `tc` is the quoted time
  // column that orders rows (latest, earliest, coalesce), ties broken by the value.
  struct Combine {
    std::string select, after;
  };
  virtual Combine CombineByKey(const std::vector<std::string>& keys, const std::vector<BatchColumn>& columns,
                               const std::string& tc) const = 0;
  // Expression combining the existing value (prefix `t.`) with the incoming one (`b.`).
  std::string MergeExpression(MergeRule rule, const std::string& col, const std::string& tc) const;
  // A boolean that is true, or fails the statement with `message` when `condition` holds
  // for a row: the guards of the strategy writers.
  virtual std::string RaiseIf(const std::string& condition, std::string_view message) const = 0;
  // True when values of type `actual` fit a column declared `declared` (both in the
  // engine's canonical spelling) without loss.
  virtual bool TypeFits(const std::string& declared, const std::string& actual) const = 0;
  // A TIMESTAMP expression as ISO-8601 text in UTC, "2024-01-03T04:05:06Z" (NULL stays NULL).
  virtual std::string IsoText(const std::string& expr) const = 0;
};

// A statement parsed and planned once, run many times with new parameters ($1, $2, ...).
class Statement {
 public:
  // A bound value: text (also for timestamps and JSON; cast in the SQL), an integer,
  // a boolean, or NULL.
  using Value = std::variant<std::monostate, std::string, int64_t, bool>;
  virtual ~Statement() = default;
  // Returns the rows an INSERT, UPDATE or DELETE changed (0 for other statements).
  virtual Result<int64_t> Run(const std::vector<Value>& params) = 0;
};

// `derived query`: a user's SQL script, split into statements and checked by the engine
// that runs it, from its own parser. Belongs to the session that opened it, which runs
// nothing else while it lives. Not thread-safe.
class UserScript {
 public:
  virtual ~UserScript() = default;
  virtual size_t size() const = 0;
  // Statement `i` as written ("" when the engine cannot tell where it is written).
  virtual const std::string& text(size_t i) const = 0;
  // Runs statement `i`. Statements run in order; each is bound against the catalog as the
  // earlier ones left it. Its result must be read (or dropped) before the next one runs.
  virtual Result<std::unique_ptr<TypedRows>> Run(size_t i) = 0;
};

enum class ScriptAccess {
  // Only reads: every statement is checked, before any runs, to be a query (or EXPLAIN,
  // or another statement the engine answers with rows without changing anything), in a
  // read-only transaction that is rolled back when the script is destroyed.
  kRead,
  // May change anything, inside the caller's transaction: statements that would end it
  // (BEGIN, COMMIT, ROLLBACK) or install or load extensions are refused.
  kWrite,
};

struct OpenedScript {
  std::unique_ptr<UserScript> script;  // null when refused
  std::optional<std::string> refusal;  // why the script may not run as asked; nothing ran
};

// What an engine can do, where the engine-neutral code must know.
struct Capabilities {
  // Many processes write it at once (a server): commands open it directly while a
  // service runs, and each mutation holds its table's lock (Warehouse::LockTable). An
  // embedded file has one writing process instead, which other commands go through.
  bool shared = false;
};
Capabilities CapabilitiesOf(WarehouseEngine engine);

class Warehouse {
 public:
  virtual ~Warehouse() = default;

  virtual std::string_view engine() const = 0;
  virtual Capabilities capabilities() const = 0;
  virtual const SqlDialect& dialect() const = 0;

  // Another session on the same warehouse, for another thread. Sessions see each other's
  // committed data; each has its own transaction.
  virtual Result<std::unique_ptr<Warehouse>> Connect() = 0;
  // Cancels the statement running in this session (from any thread): it fails and its
  // transaction can only roll back.
  virtual void Interrupt() = 0;
  // Interrupt() on every session of this warehouse in the process.
  virtual void InterruptAll() = 0;
  // Set once a failed commit or an I/O error has closed the warehouse for this process
  // (every session of it): nothing more runs, and the process must stop or reopen it.
  virtual std::optional<std::string> Failure() const = 0;

  // Runs statements, discarding results.
  virtual Status Execute(std::string_view sql) = 0;
  // Runs one statement and reads its whole result as text.
  virtual Result<Rows> Query(std::string_view sql) = 0;
  // Runs one INSERT, UPDATE or DELETE and returns the number of rows it changed.
  virtual Result<int64_t> ExecuteCount(std::string_view sql) = 0;

  virtual Result<std::unique_ptr<Statement>> Prepare(std::string_view sql) = 0;

  // Inside a transaction: waits until no other process is mutating `table`, and keeps
  // others waiting until this transaction ends (kExclusive: a mutation of it). kShared:
  // waits for the mutation in flight, if any, to end, and keeps new ones from starting
  // until this transaction ends; any number of sessions share it (a reader that must
  // see the table as its state says). Nothing to do with a single writer.
  enum class LockMode { kExclusive, kShared };
  virtual Status LockTable(const std::string& table, LockMode mode) {
    (void)table, (void)mode;
    return Status::Ok();
  }

  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;

  // Unqualified table names in later statements resolve against this dataset, as they
  // do in the type-check.
  virtual Status UseDataset(const std::string& dataset) = 0;
  virtual Status EnsureDataset(const std::string& dataset) = 0;
  // Makes the metadata schema `_derived` and its tables (warehouse/metadata_tables.h)
  // when missing, with whatever the engine adds: on a shared server, one process at a
  // time, and indexes; on DuckDB, the migration of files earlier versions wrote.
  virtual Status CreateMetadataSchema() = 0;
  // The metadata tables (log, state, marks, files) in `schema`, a shadow environment's
  // own (shadow/environment.h), when missing: what `_derived` holds but the fleet's.
  // REQUIRES: `schema` is a plain lowercase identifier.
  virtual Status CreateMetadataTables(const std::string& schema) = 0;
  // The schemas of this database whose names begin with `prefix`, sorted (standard SQL
  // both engines answer alike: information_schema).
  virtual Result<std::vector<std::string>> Schemas(std::string_view prefix);
  // Drops a schema with everything in it: only ever a shadow environment's.
  virtual Status DropSchema(const std::string& schema);

  // User SQL runs only through these three (sql/embed.h): checked by the engine's parser
  // to be exactly one SELECT, then run as `embedding` holds it once the statement built
  // around it is checked in turn (an error, with nothing run, when it is not as built).
  virtual Result<sql::CheckedSelect> CheckQuery(std::string_view sql) = 0;
  virtual Result<Rows> QueryEmbedded(const sql::CheckedSelect& query, const sql::Embedding& embedding) = 0;
  // The same for an INSERT, UPDATE or DELETE: the number of rows it changed.
  virtual Result<int64_t> ExecuteEmbeddedCount(const sql::CheckedSelect& query, const sql::Embedding& embedding) = 0;
  // The output columns of DESCRIBE as `embedding` holds the query (Embedding::Describe():
  // the query's own), without running it.
  virtual Result<std::vector<OutputColumn>> DescribeQuery(
      const sql::CheckedSelect& query, const sql::Embedding& embedding = sql::Embedding::Describe()) = 0;

  // The output columns of a SELECT of Derived's own (never a user's: see DescribeQuery),
  // without running it. The SELECT starts on the statement's second line.
  virtual Result<std::vector<OutputColumn>> Describe(std::string_view select) = 0;
  // The engine's canonical spelling of a type name ("int" -> "INTEGER"), checked to be
  // one type name alone: declared types go into Derived's SQL only in this spelling.
  virtual Result<std::string> CanonicalType(const std::string& type) = 0;

  // The columns of a table in order, or nullopt when it does not exist.
  virtual Result<std::optional<std::vector<OutputColumn>>> Columns(const std::string& dataset,
                                                                   const std::string& table) = 0;

  // How the engine stores a table, one line each for `derived show`: partitions, indexes.
  // None when there is nothing beyond the table itself, or it does not exist.
  virtual Result<std::vector<std::string>> DescribeStorage(const std::string& dataset, const std::string& table) {
    (void)dataset, (void)table;
    return std::vector<std::string>{};
  }

  // The strategy writers of this session (warehouse/writer.h).
  virtual TableWriter& writer() = 0;
  // File sources, or nullptr for an engine that reads no files (validate refuses them).
  virtual FileSources* file_sources() { return nullptr; }
  // Leases and commit notices between the processes sharing the warehouse
  // (warehouse/coordination.h); nullptr for an engine with one writing process.
  virtual Coordination* coordination() { return nullptr; }

  // A user's script for `derived query` (UserScript above). An error when it cannot be
  // parsed, or (kRead) when a statement does not bind.
  virtual Result<OpenedScript> OpenScript(std::string_view sql, ScriptAccess access, TimeStyle style) = 0;
};

// Opens the warehouse a project configures (its path relative to the project root),
// locked down (db/lockdown.h) to the files of ProjectFileAccess(project).
Result<std::unique_ptr<Warehouse>> OpenWarehouse(const Project& project);
// The type-checker of the engine the project runs on (compile/typecheck.h).
Result<std::unique_ptr<TypeChecker>> CreateTypeChecker(const Project& project);
// True when the project's warehouse exists already (opening it would not create it);
// always for a server.
bool WarehouseExists(const Project& project);

// `text` with every ${NAME} replaced by the environment variable NAME; an error (naming
// `field` and the variable, never a value) when one is unset or a reference is malformed.
Result<std::string> ExpandEnvironment(const std::string& text, const std::string& field);
// The NAMEs of `text`'s ${NAME} references, each once, in order of appearance (what
// ExpandEnvironment would read); an error for a malformed reference.
Result<std::vector<std::string>> EnvironmentReferences(const std::string& text, const std::string& field);

// Runs `fn` in a transaction: commits when it succeeds, rolls back when it fails.
template <typename Fn>
Status InTransaction(Warehouse& wh, Fn&& fn) {
  if (auto st = wh.Begin(); !st.ok()) return st;
  Status st = fn();
  if (!st.ok()) {
    (void)wh.Rollback();
    return st;
  }
  if (auto c = wh.Commit(); !c.ok()) {
    (void)wh.Rollback();
    return c;
  }
  return Status::Ok();
}

}  // namespace derived
