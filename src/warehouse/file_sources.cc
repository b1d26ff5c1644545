#include "warehouse/file_sources.h"

namespace derived {

Result<std::map<std::string, std::string>> AttachFileSources(Warehouse&, const Project&) {
  return std::map<std::string, std::string>();  // TODO(file sources helper)
}

}  // namespace derived
