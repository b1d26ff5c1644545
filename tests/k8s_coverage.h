// Which tables the Deployments `derived deploy k8s` writes serve, read back from the
// objects as a cluster would run them: the test that every table is covered exactly once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace derived::testing {

// Which tables the Deployments serve: a process `update TABLE` serves TABLE; `run --shard
// K/N` serves the tables its derived/tables annotation lists, each of which must be one
// fleet::ShardOf puts in shard K (the split the process itself makes).
struct Coverage {
  std::map<std::string, int> times;  // table -> Deployments serving it
  int deployments = 0;
  int empty = 0;  // shard Deployments serving no table
  std::vector<std::string> problems;
};
Coverage TablesServed(const std::vector<YAML::Node>& objects);

}  // namespace derived::testing
