// `derived ci --base REF`: validates the working tree, builds the shadow environment of
// what it changes against REF, diffs it against production, and writes a Markdown summary
// for the pull request. Exits 1 on any failure (shadow/summary.h says which).
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/compile_project.h"
#include "service/service.h"
#include "service/watcher.h"
#include "shadow/summary.h"
#include "time/clock.h"
#include "util/files.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

// The base's definition hashes: REF checked out beside the project and compiled.
Result<shadow::BuildOptions::Base> BaseOf(const CommonOptions& opts, const std::string& root, const std::string& ref) {
  auto dir = CheckOutCommit(root, ref);
  if (!dir.ok()) return dir.error();
  CompileOptions copts;
  copts.threads = opts.threads;
  copts.type_check = false;
  copts.use_cache = false;
  copts.now = opts.now ? *opts.now : SystemClock().Now();
  auto cp = Compile(*dir, copts);
  if (!cp.ok()) return Error(fmt::format("the project at {} does not load: {}", ref, cp.error().ToString()));
  auto an = AnalyzeProject(*cp);
  return shadow::BuildOptions::Base{an->hashes, an->tests_hashes};
}

// The failed tests of the build's run, with their sample rows, from the environment's log.
nlohmann::json FailedTests(Warehouse& wh, const std::string& env, const std::string& run_id) {
  nlohmann::json out = nlohmann::json::array();
  auto rows = wh.Query(fmt::format(
      "SELECT table_name, CAST(details AS VARCHAR) FROM {}.log WHERE run_id = {} AND status = 'test_failed' ORDER BY 1",
      shadow::MetadataSchemaOf(env), wh.dialect().Literal(run_id)));
  if (!rows.ok()) return out;
  for (const auto& r : rows->rows) {
    auto details = nlohmann::json::parse(r[1].value_or(""), nullptr, false);
    if (!details.is_object()) continue;
    std::string table = r[0].value_or("");
    if (size_t at = table.find("__", std::string("shadow__").size()); table.rfind("shadow__", 0) == 0 && at != std::string::npos) {
      table = table.substr(at + 2);  // production's name
    }
    auto tests = details.find("tests");
    out.push_back({{"table", table}, {"tests", tests != details.end() && tests->is_array() ? *tests : nlohmann::json::array()}});
  }
  return out;
}

}  // namespace

int WriteCiSummary(const std::string& path, const std::string& markdown, int code, std::ostream& out,
                   std::ostream& err) {
  if (auto st = WritePrivateFile(path, markdown); !st.ok()) {
    err << "error: the summary was not written: " << st.error().message << "\n";
    return 1;
  }
  out << fmt::format("{}; summary in {}\n", code == 0 ? "passed" : "failed", path);
  return code;
}

int Ci(const CommonOptions& given, const CiOptions& ci, std::ostream& out, std::ostream& err) {
  CommonOptions opts = given;
  if (given.service) opts.project = given.service->options().project_dir;  // the working tree it runs from
  shadow::CiOutcome o;
  o.base = ci.base;
  o.env = ci.env;
  const Timestamp now = opts.now ? *opts.now : SystemClock().Now();
  std::error_code ec;
  const std::string root = std::filesystem::absolute(opts.project, ec).lexically_normal().string();
  auto finish = [&]() -> int {
    const int code = o.failed() ? 1 : 0;
    std::string md = shadow::CiMarkdown(o);
    if (ci.summary.empty()) {
      out << md;
      return code;
    }
    return WriteCiSummary(ci.summary, md, code, out, err);
  };

  auto cp = CompileFor(opts, /*type_check=*/true, err);
  if (!cp) {
    o.error = "the project does not load (see the errors printed)";
    return finish();
  }
  for (const auto& d : cp->diags.all()) {
    if (d.severity == Severity::kError) o.validation_errors.push_back(d.ToString());
  }
  if (!o.validation_errors.empty()) {
    PrintDiagnostics(cp->diags, err);
    return finish();
  }
  auto base = BaseOf(opts, root, ci.base);
  if (!base.ok()) {
    o.error = base.error().message;
    return finish();
  }
  // The branch's readers and keys, for the diff: compiled again, as the build takes its own.
  auto for_diff = CompileFor(opts, /*type_check=*/false, err);
  if (!for_diff) {
    o.error = "the project does not load";
    return finish();
  }
  auto wh = opts.service ? opts.service->Connect() : OpenWarehouse(cp->project);
  if (!wh.ok()) {
    o.error = wh.error().ToString();
    return finish();
  }
  auto diff_session = (*wh)->Connect();
  if (!diff_session.ok()) {
    o.error = diff_session.error().ToString();
    return finish();
  }
  shadow::BuildOptions b;
  b.env = ci.env;
  b.now = now;
  if (!ci.full) b.last = ci.last ? *ci.last : cp->project.shadow.last;
  b.sample_percent = ci.sample_percent;
  b.base = std::move(*base);
  auto built = shadow::Build(std::move(*cp), std::move(*wh), b, nullptr);
  if (!built.ok()) {
    o.error = built.error().ToString();
    return finish();
  }
  o.build = std::move(*built);
  o.failed_tests = FailedTests(**diff_session, ci.env, o.build->run_id);
  auto diff = shadow::Diff(**diff_session, *for_diff, ci.env, now);
  if (diff.ok()) {
    o.diff = std::move(*diff);
  } else if (!o.build->tables.empty()) {
    o.error = "the diff failed: " + diff.error().message;
  }
  return finish();
}

}  // namespace derived::cli
