#include "util/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace derived {

std::string Diagnostic::ToString() const {
  std::string loc = where.ToString();
  std::string kind = severity == Severity::kError ? "error" : "warning";
  return (loc.empty() ? "" : loc + ": ") + kind + ": " + message;
}

void Diagnostics::AddError(Location where, std::string message) {
  items_.push_back({Severity::kError, std::move(where), std::move(message)});
}

void Diagnostics::AddWarning(Location where, std::string message) {
  items_.push_back({Severity::kWarning, std::move(where), std::move(message)});
}

void Diagnostics::Merge(Diagnostics other) {
  for (auto& d : other.items_) items_.push_back(std::move(d));
}

void Diagnostics::Sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
}

size_t Diagnostics::error_count() const {
  return std::count_if(items_.begin(), items_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

}  // namespace derived
