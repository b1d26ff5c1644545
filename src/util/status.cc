#include "util/status.h"

namespace derived {

std::string Location::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

std::string Error::ToString() const {
  std::string loc = where.ToString();
  return loc.empty() ? message : loc + ": " + message;
}

}  // namespace derived
