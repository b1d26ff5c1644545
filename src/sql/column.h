// A column of a query's output or of a table: what the type-check infers and what the
// warehouse reports.
#pragma once

#include <string>

namespace derived {

struct OutputColumn {
  std::string name;  // lowercase
  std::string type;  // the engine's canonical spelling, e.g. "BIGINT"
  bool operator==(const OutputColumn&) const = default;
};

}  // namespace derived
