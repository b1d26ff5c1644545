// Where the SQL of a table and of its custom tests sits in the project's files.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compile/stages.h"

namespace derived::compile_internal {

std::optional<std::string> ReadProjectFile(const Project& project, const std::string& file) {
  std::ifstream in(std::filesystem::path(project.root) / file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<const TextPlacement> PlaceTableSql(const Project& project, const TableDef& def) {
  const SqlText& sql = def.sql;
  if (sql.file != def.file)
    return std::make_shared<TextPlacement>(TextPlacement::WholeFile(sql.file, sql.text));
  // SQL embedded in YAML: checked against the file only if a position in it is placed.
  std::string path = (std::filesystem::path(project.root) / def.file).string();
  return std::make_shared<TextPlacement>(TextPlacement::InYamlFile(sql.file, sql.first_line, sql.text, path));
}

namespace {

// The line of a scalar's value in `yaml` (`find` picks the node from the root); 0 when it
// cannot be found.
template <typename Find>
int ScalarFirstLine(const std::string& yaml, Find&& find) {
  try {
    YAML::Node node = find(YAML::Load(yaml));
    if (!node.IsDefined()) return 0;
    YAML::Mark m = node.Mark();
    if (m.is_null()) return 0;
    // A block scalar (| or >) starts on the line after its indicator.
    size_t pos = static_cast<size_t>(m.pos);
    bool block = pos < yaml.size() && (yaml[pos] == '|' || yaml[pos] == '>');
    return m.line + 1 + (block ? 1 : 0);
  } catch (const std::exception&) {
    return 0;  // the loader accepted the file, so this does not happen; a coarser line serves
  }
}

}  // namespace

int TestSqlFirstLine(const std::string& yaml, size_t index) {
  return ScalarFirstLine(yaml, [&](YAML::Node root) {
    YAML::Node tests = root["tests"];
    if (!tests.IsSequence() || index >= tests.size()) return YAML::Node(YAML::NodeType::Undefined);
    return YAML::Node(tests[index]["sql"]);
  });
}

int FreshnessQueryFirstLine(const std::string& yaml) {
  return ScalarFirstLine(yaml, [](YAML::Node root) {
    YAML::Node freshness = root["freshness"];
    if (!freshness.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return YAML::Node(freshness["query"]);
  });
}

}  // namespace derived::compile_internal
