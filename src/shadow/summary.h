// `derived ci`'s result and its Markdown summary, suitable for a pull-request comment.
// Pure: made from the reports, testable without a warehouse.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadow/diff.h"
#include "shadow/environment.h"

namespace derived::shadow {

struct CiOutcome {
  std::string base;                            // the base revision as given
  std::string env;
  std::vector<std::string> validation_errors;  // the branch's diagnostics of error severity
  std::optional<BuildReport> build;
  std::optional<DiffReport> diff;
  // Per table whose data tests failed: {"table": ..., "tests": [{test, offending, samples}]}.
  nlohmann::json failed_tests = nlohmann::json::array();
  std::string error;  // what stopped it before the end, if anything

  // Validation errors, a table that failed or was skipped, or an error: `ci` exits 1.
  bool failed() const;
};

std::string CiMarkdown(const CiOutcome& outcome);

}  // namespace derived::shadow
