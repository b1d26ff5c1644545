#include "shadow/summary.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace derived::shadow {
namespace {

// Text in a Markdown table cell: pipes escaped, one line.
std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

const TableDiff* DiffOf(const CiOutcome& o, const std::string& table) {
  if (!o.diff) return nullptr;
  for (const auto& t : o.diff->tables) {
    if (t.table == table) return &t;
  }
  return nullptr;
}

}  // namespace

bool CiOutcome::failed() const {
  return !validation_errors.empty() || !error.empty() || (build && build->failures() > 0);
}

std::string CiMarkdown(const CiOutcome& o) {
  std::string md = fmt::format("## Derived CI: {}\n\n", o.failed() ? "failed" : "passed");
  md += fmt::format("Compared with `{}`; shadow environment `{}`.\n\n", Cell(o.base), Cell(o.env));
  if (!o.validation_errors.empty()) {
    md += fmt::format("### Validation: {}\n\n", Plural(static_cast<int64_t>(o.validation_errors.size()), "error"));
    for (const auto& e : o.validation_errors) md += "- `" + Cell(e) + "`\n";
    md += "\n";
  }
  if (!o.error.empty()) md += "**Stopped:** " + Cell(o.error) + "\n\n";
  if (o.build) {
    const BuildReport& b = *o.build;
    int windows = 0;
    for (const auto& t : b.tables) windows += t.outcome.windows;
    if (b.tables.empty()) {
      md += "No table is defined differently from the base: nothing to build.\n\n";
    } else {
      md += fmt::format("### Tables: {}\n\n", Plural(static_cast<int64_t>(b.tables.size()), "table"));
      md += fmt::format("Covers {}. Cost: {}, {:.1f} s.\n\n",
                        b.last ? fmt::format("append and merge windows of the last {} before {}",
                                             FormatDuration(*b.last), FormatIso(b.now))
                               : std::string("every window from each table's start"),
                        Plural(windows, "window"), b.seconds);
      md += "| table | why | build | impact | rows (production → shadow) | keys added / removed / changed | readers that must rebuild |\n";
      md += "|---|---|---|---|---|---|---|\n";
      for (const auto& t : b.tables) {
        std::string why(ReasonName(t.planned.reason));
        if (!t.planned.because.empty()) why += " of `" + t.planned.because + "`";
        const TableDiff* d = DiffOf(o, t.planned.table);
        if (d && !d->error.empty()) d = nullptr;  // not built, or not comparable: nothing to show
        std::string impact = d ? std::string(ImpactName(d->impact)) : "-";
        std::string rows = d ? fmt::format("{} → {}", d->production_rows, d->shadow_rows) : "-";
        std::string keys = d && !d->keys.empty()
                               ? fmt::format("{} / {} / {}", d->keys_added, d->keys_removed, d->keys_changed)
                               : "-";
        std::string readers = d ? Join(d->affected, ", ") : "";
        md += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} |\n", t.planned.table, Cell(why),
                          StepStatusName(t.outcome.status), impact, rows, keys, Cell(readers));
      }
      md += "\n";
      for (const auto& t : b.tables) {
        if (!t.outcome.failed() && t.outcome.status != StepStatus::kSkipped) continue;
        md += fmt::format("- `{}` {}: {}\n", t.planned.table, StepStatusName(t.outcome.status), Cell(t.outcome.detail));
      }
      if (b.failures() > 0) md += "\n";
    }
    for (const auto& gone : b.plan.removed) md += fmt::format("- `{}` is not on the branch (production keeps it)\n", gone);
  }
  if (!o.failed_tests.empty()) {
    md += "### Failing tests\n\n";
    for (const auto& t : o.failed_tests) {
      auto tests = t.find("tests");
      if (!t.is_object() || tests == t.end() || !tests->is_array()) continue;
      for (const auto& test : *tests) {
        if (!test.is_object()) continue;
        auto offending = DetailNumber(test, "offending");
        md += fmt::format("**`{}`**: test `{}`, {} offending rows\n\n", DetailText(t, "table"), DetailText(test, "test"),
                          offending ? std::to_string(static_cast<int64_t>(*offending)) : "?");
        auto found = test.find("samples");
        if (found == test.end() || !found->is_array() || found->empty() || !(*found)[0].is_object()) continue;
        const auto& samples = *found;
        std::vector<std::string> cols;
        for (const auto& [k, v] : samples[0].items()) cols.push_back(k);
        md += "| " + Join(cols, " | ") + " |\n|";
        for (size_t i = 0; i < cols.size(); ++i) md += "---|";
        md += "\n";
        for (const auto& row : samples) {
          if (!row.is_object()) continue;
          std::vector<std::string> cells;
          for (const auto& c : cols) {
            const auto& v = row.contains(c) ? row[c] : nlohmann::json();
            cells.push_back(Cell(v.is_string() ? v.get<std::string>() : v.dump()));
          }
          md += "| " + Join(cells, " | ") + " |\n";
        }
        md += "\n";
      }
    }
  }
  return md;
}

}  // namespace derived::shadow
