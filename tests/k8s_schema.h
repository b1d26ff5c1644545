// A check of Kubernetes objects against the API's object schema, for the kinds and fields
// `derived deploy k8s` writes (ConfigMap v1, Deployment apps/v1), written from the
// Kubernetes API reference and apimachinery's validation rules, independently of the
// generator: required fields, types as Kubernetes' YAML 1.1 decoder reads them (a plain
// `8080` is an integer, a plain `yes` a boolean), unknown fields, names and labels,
// quantities, probes, env sources, volumes and mounts, ConfigMap keys and size.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

namespace derived::testing {

// Every problem of one object; empty when it is valid.
std::vector<std::string> K8sObjectProblems(const YAML::Node& object);

// Problems between objects applied together: a configMap volume names a ConfigMap of the
// set (same namespace) and only keys it holds; names are unique per kind.
std::vector<std::string> K8sSetProblems(const std::vector<YAML::Node>& objects);

// Both, over the documents of every file (file name -> YAML text), each problem prefixed
// with its file. Unparseable text is a problem too.
std::vector<std::string> K8sManifestProblems(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace derived::testing
