// Schema-checked reading of one YAML file: every problem becomes a diagnostic with the
// file, line and column, and reading goes on so one pass reports them all.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "util/diagnostics.h"

namespace derived {

class YamlReader {
 public:
  // REQUIRES: diags outlives the reader.
  YamlReader(std::string file, Diagnostics* diags) : file_(std::move(file)), diags_(diags) {}

  // Parses `text`; a syntax error, and a file past the bounds of config/limits.h (size,
  // values with aliases expanded, nesting), is reported and yields nullopt.
  std::optional<YAML::Node> Parse(const std::string& text);

  Location At(const YAML::Node& node) const;
  void ErrorAt(const YAML::Node& node, std::string message) { diags_->AddError(At(node), std::move(message)); }
  void WarningAt(const YAML::Node& node, std::string message) {
    diags_->AddWarning(At(node), std::move(message));
  }
  const std::string& file() const { return file_; }
  Diagnostics* diags() const { return diags_; }

  // Checks that `node` is a mapping (`what` names it in errors, e.g. "table") with only
  // `allowed` keys, no duplicates, and every `required` key. Returns false when not a map.
  bool CheckMap(const YAML::Node& node, const std::string& what, const std::vector<std::string>& allowed,
                const std::vector<std::string>& required = {});

  // True when a key of `map` that is not allowed looks like a misspelling of `field`; a
  // missing `field` is then not reported twice.
  static bool HasMisspelledKey(const YAML::Node& map, const std::string& field, const std::vector<std::string>& allowed);

  // The node's location as written in the file (for keys: the key itself).
  Location KeyLocation(const YAML::Node& map, const std::string& key) const;

  // Typed access to map[key]. A missing key yields nullopt silently; a wrong type is
  // reported at the value and yields nullopt.
  std::optional<std::string> String(const YAML::Node& map, const std::string& key);
  std::optional<int64_t> Int(const YAML::Node& map, const std::string& key);
  std::optional<bool> Bool(const YAML::Node& map, const std::string& key);
  // A list of strings; a single string is accepted as a list of one.
  std::optional<std::vector<std::string>> StringList(const YAML::Node& map, const std::string& key);

  // Scalar conversions on a node already in hand.
  std::optional<std::string> AsString(const YAML::Node& node, const std::string& what);
  std::optional<int64_t> AsInt(const YAML::Node& node, const std::string& what);

 private:
  std::string file_;
  Diagnostics* diags_;
};

// The YAML type of a node, as words for error messages ("a list", "a mapping", ...).
std::string DescribeYamlType(const YAML::Node& node);

}  // namespace derived
