#include "k8s_coverage.h"

#include <algorithm>

#include "fleet/shard.h"

namespace derived::testing {
namespace {

Coverage Served(const std::vector<YAML::Node>& objects) {
  Coverage c;
  for (const auto& o : objects) {
    if (o["kind"].Scalar() != "Deployment") continue;
    ++c.deployments;
    std::string who = "Deployment " + o["metadata"]["name"].Scalar();
    YAML::Node args = o["spec"]["template"]["spec"]["containers"][0]["args"];
    YAML::Node annotations = o["metadata"]["annotations"];
    std::vector<std::string> a;
    for (const auto& arg : args) a.push_back(arg.Scalar());
    if (a.size() >= 2 && a[0] == "update") {
      ++c.times[a[1]];
      if (annotations["derived/table"].Scalar() != a[1])
        c.problems.push_back(who + ": its annotation names another table");
    } else if (a.size() >= 3 && a[0] == "run" && a[1] == "--shard") {
      auto shard = fleet::ParseShard(a[2]);
      if (!shard.ok()) {
        c.problems.push_back(who + ": " + shard.error().message);
        continue;
      }
      if (annotations["derived/shard"].Scalar() != a[2])
        c.problems.push_back(who + ": its shard annotation disagrees");
      std::string listed = annotations["derived/tables"].Scalar();
      std::vector<std::string> tables;
      for (size_t start = 0; start < listed.size();) {
        size_t end = listed.find('\n', start);
        if (end == std::string::npos) end = listed.size();
        tables.push_back(listed.substr(start, end - start));
        start = end + 1;
      }
      if (tables.empty()) ++c.empty;
      for (const auto& t : tables) {
        ++c.times[t];
        if (fleet::ShardOf(t, shard->count) != shard->index) {
          c.problems.push_back(who + " lists " + t + ", which `run --shard " + a[2] + "` does not serve");
        }
      }
    } else {
      c.problems.push_back(who + ": runs neither `update TABLE` nor `run --shard K/N`");
    }
    bool has_project = std::find(a.begin(), a.end(), "--project") != a.end();
    bool has_port = std::find(a.begin(), a.end(), "--health-port") != a.end();
    if (!has_project || !has_port) c.problems.push_back(who + ": lacks --project or --health-port");
  }
  return c;
}

}  // namespace

Coverage TablesServed(const std::vector<YAML::Node>& objects) {
  try {
    return Served(objects);
  } catch (const YAML::Exception& e) {
    Coverage c;
    c.problems.push_back(std::string("a Deployment lacks a field the check reads: ") + e.what());
    return c;
  }
}

}  // namespace derived::testing
