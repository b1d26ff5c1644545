// `derived query`: SQL against the project's warehouse. It only reads unless given
// --write (cli/read_only.h); with --write the whole script is one transaction, logged in
// _derived.log, and in the service it runs with the updaters paused.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/query_output.h"
#include "cli/read_only.h"
#include "config/loader.h"
#include "db/sql_text.h"
#include "engine/builder.h"
#include "engine/metadata.h"
#include "service/service.h"
#include "time/clock.h"
#include "util/files.h"
#include "util/strings.h"
#include "warehouse/warehouse.h"

namespace derived::cli {
namespace {

// What a command's failure means for its exit code: the SQL failed (1) or the command
// was asked for something it refuses (2).
struct Failure {
  int code = 1;
  std::string message;
};

struct Session {
  std::unique_ptr<Warehouse> wh;
  db::Connection* conn = nullptr;
  std::string project_root;
};

// The project's warehouse, without compiling the project. A read-only query never
// creates the warehouse file.
Result<Session> OpenSession(const CommonOptions& opts, bool write) {
  Session s;
  if (opts.service) {
    auto wh = opts.service->Connect();
    if (!wh.ok()) return wh.error();
    s.wh = std::move(*wh);
    s.project_root = opts.service->options().project_dir;
  } else {
    // The whole project, not derived.yaml alone: the engine may read the locations of its
    // file sources, which their files say (a broken file is validate's to report).
    Diagnostics diags;
    auto project = LoadProject(opts.project, &diags);
    if (!project.ok()) return project.error();
    std::filesystem::path path(project->warehouse.path);
    if (path.is_relative()) path = std::filesystem::path(project->root) / path;
    std::error_code ec;
    if (!write && project->warehouse.engine == WarehouseEngine::kDuckDb && !std::filesystem::exists(path, ec)) {
      return Error(fmt::format("there is no warehouse at {} yet: `derived run` creates it", path.string()));
    }
    auto wh = OpenWarehouse(*project);
    if (!wh.ok()) return wh.error();
    s.wh = std::move(*wh);
    s.project_root = project->root;
  }
  s.conn = s.wh->duckdb_connection();
  if (!s.conn) return Error(fmt::format("`derived query` needs a DuckDB warehouse, not {}", s.wh->engine()));
  return s;
}

std::string StatementName(const db::Script& script, size_t i) {
  std::string text = script.text(i).empty() ? "" : " (`" + db::ShortStatement(script.text(i)) + "`)";
  return script.size() == 1 ? "" : fmt::format("statement {}{}: ", i + 1, text);
}

// Without --write: every statement checked and bound first, then run in a read-only
// transaction that is rolled back.
std::optional<Failure> RunReadOnly(db::Connection& conn, db::Script& script, ResultPrinter& printer,
                                   db::TimeStyle style) {
  if (auto st = conn.Execute("BEGIN TRANSACTION READ ONLY"); !st.ok()) return Failure{1, st.error().message};
  struct Rollback {
    db::Connection& c;
    ~Rollback() { (void)c.Execute("ROLLBACK"); }
  } rollback{conn};
  auto checked = PrepareReadOnly(conn, script);
  if (!checked.ok()) return Failure{1, checked.error().message};
  if (checked->refusal) return Failure{2, *checked->refusal};
  for (size_t i = 0; i < script.size(); ++i) {
    auto result = checked->prepared[i]->ExecuteTyped(style);
    if (!result.ok()) return Failure{1, StatementName(script, i) + result.error().message};
    if (auto st = printer.Print(i, script.text(i), **result); !st.ok()) {
      return Failure{1, StatementName(script, i) + st.error().message};
    }
  }
  return std::nullopt;
}

bool IsTransactionWord(const std::string& word) {
  for (const char* w : {"begin", "start", "commit", "end", "rollback", "abort"}) {
    if (word == w) return true;
  }
  return false;
}

// The engine is locked down (db/lockdown.h): it neither installs nor loads extensions.
// Statements that would are refused here by their words, before DuckDB sees them at all,
// so that none depends on the lock-down holding to stay off the network.
bool InstallsOrLoads(std::string_view text) {
  std::vector<std::string> words = db::FirstWords(text, 2);
  if (words.empty()) return false;
  if (words[0] == "install" || words[0] == "load" || words[0] == "force") return true;  // FORCE INSTALL
  return words[0] == "update" && words.size() == 2 && words[1] == "extensions";     // UPDATE EXTENSIONS
}

constexpr const char* kNoExtensions =
    "is refused: Derived's engine installs and loads no extensions (it loads json, parquet and icu itself at "
    "start); nothing ran";

constexpr const char* kOwnTransaction =
    "`derived query --write` runs the whole SQL in one transaction of its own, so it cannot hold BEGIN, COMMIT or "
    "ROLLBACK; leave them out";

// The first statement that would install or load an extension, refused.
std::optional<Failure> RefuseExtensions(const db::Script& script) {
  for (size_t i = 0; i < script.size(); ++i) {
    if (!InstallsOrLoads(script.text(i))) continue;
    std::string shown = "`" + db::ShortStatement(script.text(i)) + "`";
    return Failure{2, fmt::format("{} {}", script.size() == 1 ? shown : fmt::format("statement {} ({})", i + 1, shown),
                                  kNoExtensions)};
  }
  return std::nullopt;
}

// With --write: the statements and their log row in one transaction; a failure rolls
// everything back and is logged after the rollback.
std::optional<Failure> RunWrite(Session& s, db::Script& script, ResultPrinter& printer, db::TimeStyle style,
                                const CommonOptions& opts, const std::string& sql) {
  for (size_t i = 0; i < script.size(); ++i) {
    if (IsTransactionWord(db::FirstWord(script.text(i)))) {
      return Failure{2, StatementName(script, i) + kOwnTransaction + "; nothing ran"};
    }
  }
  MetadataStore meta(s.wh.get(), CollectProvenance(s.project_root));
  if (auto st = meta.EnsureSchema(); !st.ok()) return Failure{1, st.error().message};
  LogEntry entry;
  entry.run_id = NewRunId();
  entry.table = "_query";
  entry.operation = "query";
  entry.logical_now = opts.now ? *opts.now : SystemClock().Now();
  entry.started_at = WallSeconds();
  entry.details = {{"sql", sql}, {"statements", script.size()}};

  std::optional<Failure> failure;
  auto fail = [&](size_t i, const std::string& message) {
    failure = Failure{1, StatementName(script, i) + message};
    entry.details["failed_statement"] = i + 1;
    return Error(message);
  };
  derived::Status st = InTransaction(*s.wh, [&]() -> derived::Status {
    for (size_t i = 0; i < script.size(); ++i) {
      auto prepared = script.Prepare(i);  // now: it may read what an earlier statement made
      if (!prepared.ok()) return fail(i, prepared.error().message);
      if ((*prepared)->type() == db::StatementType::kTransaction) return fail(i, kOwnTransaction);
      // A statement whose text could not be told apart from the others, bound but not run.
      if ((*prepared)->type() == db::StatementType::kLoad || (*prepared)->type() == db::StatementType::kExtension) {
        return fail(i, std::string("an extension statement ") + kNoExtensions);
      }
      auto result = (*prepared)->ExecuteTyped(style);
      if (!result.ok()) return fail(i, result.error().message);
      if (auto p = printer.Print(i, script.text(i), **result); !p.ok()) return fail(i, p.error().message);
    }
    entry.status = "success";
    entry.finished_at = WallSeconds();
    return meta.AppendLog(entry);
  });
  if (st.ok()) return std::nullopt;
  if (!failure) failure = Failure{1, st.error().message};  // the log row or the commit
  failure->message += "; the transaction rolled back, so no statement's change was kept";
  entry.status = "failed";
  entry.error = st.error().message;
  entry.finished_at = WallSeconds();
  if (auto logged = meta.AppendLog(entry); !logged.ok()) {
    failure->message += " (and the failure could not be logged: " + logged.error().message + ")";
  }
  return failure;
}

int RunQuery(const CommonOptions& opts, const std::string& sql, const std::string& label, bool json, bool write,
             std::ostream& out, std::ostream& err) {
  auto report = [&](const Failure& f) {
    err << "error: " << label << f.message << "\n";
    return f.code;
  };
  auto session = OpenSession(opts, write);
  if (!session.ok()) return report({1, session.error().ToString()});
  auto script = session->conn->Parse(sql);
  if (!script.ok()) return report({1, script.error().message});
  if ((*script)->size() == 0) return report({2, "the SQL holds no statement, only comments"});
  if (auto refused = RefuseExtensions(**script)) return report(*refused);
  ResultPrinter printer(json ? QueryFormat::kJson : QueryFormat::kText, (*script)->size(), out);
  db::TimeStyle style = json ? db::TimeStyle::kIso : db::TimeStyle::kSql;
  auto failure = write ? RunWrite(*session, **script, printer, style, opts, sql)
                       : RunReadOnly(*session->conn, **script, printer, style);
  return failure ? report(*failure) : 0;
}

}  // namespace

int Query(const CommonOptions& opts, const std::string& sql, const std::string& file, bool json, bool write,
          std::ostream& out, std::ostream& err) {
  std::string text = sql;
  if (!file.empty()) {
    auto content = ReadFileLimited(file, kMaxQueryFileBytes, "'" + file + "'");
    if (!content.ok()) {
      err << "error: " << content.error().message << "\n";
      return 2;
    }
    text = std::move(*content);
  }
  if (Trim(text).empty()) {
    err << "error: give a query, or --file with one\n";
    return 2;
  }
  std::string label = file.empty() ? "" : file + ": ";
  // A write pauses the service's updaters, so it never races a build; reads run beside them.
  if (!write || !opts.service) return RunQuery(opts, text, label, json, write, out, err);
  int code = 1;
  if (auto st = opts.service->Exclusive([&] { code = RunQuery(opts, text, label, json, write, out, err); }); !st.ok()) {
    err << "error: " << st.error().ToString() << "\n";
    return 1;
  }
  return code;
}

}  // namespace derived::cli
