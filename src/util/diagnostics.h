// Problems found while loading or checking a project. Validation collects all of them
// (across every file) before it reports, rather than stopping at the first.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace derived {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  Location where;
  std::string message;

  // "file:line:col: error: message"
  std::string ToString() const;
};

// Not thread-safe: give each worker its own and Merge() them afterwards.
class Diagnostics {
 public:
  void AddError(Location where, std::string message);
  void AddWarning(Location where, std::string message);
  void Add(const Error& error) { AddError(error.where, error.message); }
  void Merge(Diagnostics other);

  // Sorts by file, line, column so output is stable regardless of worker order.
  void Sort();

  const std::vector<Diagnostic>& all() const { return items_; }
  size_t error_count() const;
  size_t warning_count() const { return items_.size() - error_count(); }
  bool has_errors() const { return error_count() > 0; }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace derived
