// `derived query`: SQL against the project's warehouse. It only reads unless given
// --write (Warehouse::OpenScript says what reads, by the engine's own parser); with --write the whole script is one transaction, logged in
// _derived.log, and in the service it runs with the updaters paused.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/query_output.h"
#include "config/loader.h"
#include "metadata/store.h"
#include "service/service.h"
#include "sql/text.h"
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
    return s;
  }
  // The whole project, not derived.yaml alone: the engine may read the locations of its
  // file sources, which their files say (a broken file is validate's to report).
  Diagnostics diags;
  auto project = LoadProject(opts.project, &diags);
  if (!project.ok()) return project.error();
  if (!write && !WarehouseExists(*project)) {
    std::filesystem::path path(project->warehouse.path);
    if (path.is_relative()) path = std::filesystem::path(project->root) / path;
    return Error(fmt::format("there is no warehouse at {} yet: `derived run` creates it", path.string()));
  }
  auto wh = OpenWarehouse(*project);
  if (!wh.ok()) return wh.error();
  s.wh = std::move(*wh);
  s.project_root = project->root;
  return s;
}

std::string StatementName(const UserScript& script, size_t i) {
  std::string text = script.text(i).empty() ? "" : " (`" + sql::ShortStatement(script.text(i)) + "`)";
  return script.size() == 1 ? "" : fmt::format("statement {}{}: ", i + 1, text);
}

// Runs every statement in order, printing each result; the first failure, named.
std::optional<Failure> RunStatements(UserScript& script, ResultPrinter& printer, std::optional<size_t>* failed) {
  for (size_t i = 0; i < script.size(); ++i) {
    auto result = script.Run(i);
    std::optional<std::string> error;
    if (!result.ok()) {
      error = result.error().message;
    } else if (auto st = printer.Print(i, script.text(i), **result); !st.ok()) {
      error = st.error().message;
    }
    if (error) {
      *failed = i;
      return Failure{1, StatementName(script, i) + *error};
    }
  }
  return std::nullopt;
}

// With --write: the statements and their log row in one transaction; a failure rolls
// everything back and is logged after the rollback.
std::optional<Failure> RunWrite(Session& s, UserScript& script, ResultPrinter& printer, const CommonOptions& opts,
                                const std::string& sql) {
  MetadataStore meta(s.wh.get(), CollectProvenance(s.project_root));
  if (auto st = meta.EnsureSchema(); !st.ok()) return Failure{1, st.error().message};
  LogEntry entry = LogEntry::Begin(NewRunId(), "_query", "", "query", opts.now ? *opts.now : SystemClock().Now());
  entry.details = {{"sql", sql}, {"statements", script.size()}};

  std::optional<Failure> failure;
  derived::Status st = InTransaction(*s.wh, [&]() -> derived::Status {
    std::optional<size_t> failed;
    failure = RunStatements(script, printer, &failed);
    if (failure) {
      entry.details["failed_statement"] = *failed + 1;
      return Error(failure->message);
    }
    entry.status = RunStatus::kSuccess;
    entry.finished_at = WallSeconds();
    return meta.AppendLog(entry);
  });
  if (st.ok()) return std::nullopt;
  if (!failure) failure = Failure{1, st.error().message};  // the log row or the commit
  failure->message += "; the transaction rolled back, so no statement's change was kept";
  entry.status = RunStatus::kFailed;
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
  TimeStyle style = json ? TimeStyle::kIso : TimeStyle::kSql;
  auto opened = session->wh->OpenScript(sql, write ? ScriptAccess::kWrite : ScriptAccess::kRead, style);
  if (!opened.ok()) return report({1, opened.error().message});
  if (opened->refusal) return report({2, *opened->refusal});
  UserScript& script = *opened->script;
  if (script.size() == 0) return report({2, "the SQL holds no statement, only comments"});
  ResultPrinter printer(json ? QueryFormat::kJson : QueryFormat::kText, script.size(), out);
  std::optional<size_t> failed;
  auto failure = write ? RunWrite(*session, script, printer, opts, sql) : RunStatements(script, printer, &failed);
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
