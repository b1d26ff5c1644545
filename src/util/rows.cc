#include "util/rows.h"

namespace derived {

nlohmann::json Rows::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json obj = nlohmann::json::object();
    for (size_t i = 0; i < columns.size(); ++i) obj[columns[i]] = r[i] ? nlohmann::json(*r[i]) : nullptr;
    out.push_back(std::move(obj));
  }
  return out;
}

}  // namespace derived
