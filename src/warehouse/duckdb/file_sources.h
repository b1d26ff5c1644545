// File sources on DuckDB (`location: landing/events/*.parquet`): DuckDB reads the files in
// place through a view named like the source, so files an ingestion pipeline lands while
// the service runs are visible to the next query. The FileSources of a DuckDB session.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"
#include "util/status.h"
#include "warehouse/warehouse.h"

namespace derived {

using DayDigests = FileSources::DayDigests;

// FileSources::Attach, List and Digests on the DuckDB session `wh`.
Result<std::map<std::string, std::string>> AttachFileSources(Warehouse& wh, const Project& project);
Result<std::vector<std::string>> ListFiles(Warehouse& wh, const std::string& root, const SourceDef& s);
Result<std::map<std::string, DayDigests>> FileDayDigests(Warehouse& wh, const SourceDef& s,
                                                         const std::vector<std::string>& paths);

class DuckDbFileSources final : public FileSources {
 public:
  explicit DuckDbFileSources(Warehouse& wh) : wh_(wh) {}  // the session; outlives this
  Result<std::map<std::string, std::string>> Attach(const Project& project) override {
    return AttachFileSources(wh_, project);
  }
  Result<std::vector<std::string>> List(const std::string& root, const SourceDef& s) override {
    return ListFiles(wh_, root, s);
  }
  Result<std::map<std::string, DayDigests>> Digests(const SourceDef& s, const std::vector<std::string>& paths) override {
    return FileDayDigests(wh_, s, paths);
  }

 private:
  Warehouse& wh_;
};

}  // namespace derived
