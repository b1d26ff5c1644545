#include "config/yaml_reader.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "config/limits.h"
#include "util/strings.h"

namespace derived {

std::string DescribeYamlType(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "empty";
    case YAML::NodeType::Scalar: return fmt::format("the scalar '{}'", node.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "undefined";
  }
}

namespace {

// Walks the document as its readers will, aliases expanded, and stops at the first node
// past kMaxYamlValues or kMaxYamlDepth: at most that many steps however the aliases nest.
class SizeCheck {
 public:
  // The node where a bound was passed and the message, or nullopt when within both.
  std::optional<std::pair<YAML::Node, std::string>> Check(const YAML::Node& root) {
    Visit(root, 1);
    return std::move(failure_);
  }

 private:
  void Visit(const YAML::Node& node, int depth) {
    if (failure_) return;
    if (++values_ > kMaxYamlValues) {
      failure_.emplace(node, fmt::format("the YAML holds more than {} values once its aliases (*name) are "
                                         "expanded, each use counting its anchor's values again: is it an alias bomb?",
                                         kMaxYamlValues));
      return;
    }
    if (!node.IsMap() && !node.IsSequence()) return;
    if (depth > kMaxYamlDepth) {
      failure_.emplace(node, fmt::format("the YAML nests lists and mappings more than {} deep (aliases expanded)",
                                         kMaxYamlDepth));
      return;
    }
    for (const auto& item : node) {
      if (node.IsMap()) {
        Visit(item.first, depth + 1);
        Visit(item.second, depth + 1);
      } else {
        Visit(item, depth + 1);
      }
      if (failure_) return;
    }
  }

  size_t values_ = 0;
  std::optional<std::pair<YAML::Node, std::string>> failure_;
};

}  // namespace

std::optional<YAML::Node> YamlReader::Parse(const std::string& text) {
  if (text.size() > kMaxProjectFileBytes) {
    diags_->AddError({file_, 1, 1}, fmt::format("the file is larger than {} MiB, the most Derived reads",
                                                kMaxProjectFileBytes >> 20));
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    diags_->AddError({file_, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
    return std::nullopt;
  }
  if (auto failure = SizeCheck().Check(root)) {
    ErrorAt(failure->first, std::move(failure->second));
    return std::nullopt;
  }
  return root;
}

Location YamlReader::At(const YAML::Node& node) const {
  YAML::Mark m = node.Mark();
  if (m.is_null()) return {file_, 0, 0};
  return {file_, m.line + 1, m.column + 1};
}

Location YamlReader::KeyLocation(const YAML::Node& map, const std::string& key) const {
  if (map.IsMap()) {
    for (const auto& kv : map) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return At(kv.first);
    }
  }
  return At(map);
}

bool YamlReader::CheckMap(const YAML::Node& node, const std::string& what, const std::vector<std::string>& allowed,
                          const std::vector<std::string>& required) {
  if (!node.IsMap()) {
    ErrorAt(node, fmt::format("{} must be a mapping of keys to values, got {}", what, DescribeYamlType(node)));
    return false;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      ErrorAt(kv.first, fmt::format("keys of {} must be plain names", what));
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      ErrorAt(kv.first, fmt::format("duplicate key '{}' in {}", key, what));
      continue;
    }
    bool known = false;
    for (const auto& a : allowed) known = known || a == key;
    if (!known) {
      ErrorAt(kv.first, fmt::format("unknown key '{}' in {}{}", key, what, DidYouMean(key, allowed)));
    }
  }
  for (const auto& r : required) {
    if (!seen.count(r) && !HasMisspelledKey(node, r, allowed)) {
      ErrorAt(node, fmt::format("{} is missing required field '{}'", what, r));
    }
  }
  return true;
}

bool YamlReader::HasMisspelledKey(const YAML::Node& map, const std::string& field,
                                  const std::vector<std::string>& allowed) {
  if (!map.IsMap()) return false;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    if (key != field && std::find(allowed.begin(), allowed.end(), key) == allowed.end() &&
        ClosestMatch(key, allowed) == field) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> YamlReader::AsString(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    ErrorAt(node, fmt::format("{} must be a string, got {}", what, DescribeYamlType(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> YamlReader::AsInt(const YAML::Node& node, const std::string& what) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    try {
      size_t used = 0;
      long long v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
  }
  ErrorAt(node, fmt::format("{} must be an integer, got {}", what, DescribeYamlType(node)));
  return std::nullopt;
}

std::optional<std::string> YamlReader::String(const YAML::Node& map, const std::string& key) {
  YAML::Node v = map[key];
  if (!v.IsDefined()) return std::nullopt;
  return AsString(v, "'" + key + "'");
}

std::optional<int64_t> YamlReader::Int(const YAML::Node& map, const std::string& key) {
  YAML::Node v = map[key];
  if (!v.IsDefined()) return std::nullopt;
  return AsInt(v, "'" + key + "'");
}

std::optional<bool> YamlReader::Bool(const YAML::Node& map, const std::string& key) {
  YAML::Node v = map[key];
  if (!v.IsDefined()) return std::nullopt;
  if (v.IsScalar()) {
    std::string s = ToLower(v.Scalar());
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  ErrorAt(v, fmt::format("'{}' must be true or false, got {}", key, DescribeYamlType(v)));
  return std::nullopt;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const YAML::Node& map, const std::string& key) {
  YAML::Node v = map[key];
  if (!v.IsDefined()) return std::nullopt;
  if (v.IsScalar()) return std::vector<std::string>{v.Scalar()};
  if (!v.IsSequence()) {
    ErrorAt(v, fmt::format("'{}' must be a list of strings, got {}", key, DescribeYamlType(v)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : v) {
    if (!item.IsScalar()) {
      ErrorAt(item, fmt::format("items of '{}' must be strings, got {}", key, DescribeYamlType(item)));
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace derived
