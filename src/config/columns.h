// Parsing of the parts shared by table and source files: column lists and names.
#pragma once

#include <string>
#include <vector>

#include "config/model.h"
#include "config/yaml_reader.h"

namespace derived {

// Reads `columns:` (a list of {name, type, description, tags}); reports duplicates.
std::vector<ColumnDef> ParseColumns(YamlReader& r, const YAML::Node& node);

// Reads an identifier-valued field (name, dataset) or falls back to `fallback`;
// reports names that are not SQL identifiers. Returns the lowercased name.
std::string ParseName(YamlReader& r, const YAML::Node& root, const std::string& key, const std::string& fallback);

// Records the location of every top-level key, for later stages' errors.
std::map<std::string, Location> FieldLocations(const YamlReader& r, const YAML::Node& root);

}  // namespace derived
