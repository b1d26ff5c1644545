#include "deploy/yaml_text.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <string_view>

namespace derived::deploy {
namespace {

// Words YAML 1.1 reads as a boolean or null (Kubernetes decodes with go-yaml's 1.1 rules).
bool IsYaml11Word(std::string_view s) {
  static constexpr std::array<std::string_view, 23> kWords = {
      "y",    "Y",     "yes",   "Yes",   "YES", "n",  "N",  "no",  "No",  "NO",  "true", "True",
      "TRUE", "false", "False", "FALSE", "on",  "On", "ON", "off", "Off", "OFF", "null"};
  for (std::string_view w : kWords) {
    if (s == w) return true;
  }
  return s == "Null" || s == "NULL";
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Code points a YAML reader may take for a line break or a byte-order mark even inside
// quotes (NEL, LS, PS, BOM): written escaped.
bool HasBreakLookalike(std::string_view s) {
  return s.find("\xC2\x85") != std::string_view::npos || s.find("\xE2\x80\xA8") != std::string_view::npos ||
         s.find("\xE2\x80\xA9") != std::string_view::npos || s.find("\xEF\xBB\xBF") != std::string_view::npos;
}

// A literal block (`|`, clip chomping) keeps exactly text that ends in one newline,
// whose first line is neither empty nor indented, with no control characters but tabs.
bool LiteralSafe(std::string_view s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\t' || s.front() == '\n') return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) return false;
  }
  // C1 controls (U+0080..U+009F, two bytes C2 80..C2 9F) and the look-alikes above.
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return false;
    }
  }
  return !HasBreakLookalike(s);
}

void EmitString(YAML::Emitter& e, const std::string& s) {
  if (PlainSafe(s)) {
    e << s;
  } else if (s.find('\n') != std::string::npos && LiteralSafe(s)) {
    e << YAML::Literal << s;
  } else if (HasBreakLookalike(s)) {
    e << YAML::EscapeNonAscii << YAML::DoubleQuoted << s;
  } else {
    e << YAML::DoubleQuoted << s;
  }
}

Status Emit(YAML::Emitter& e, const Object& v) {
  if (v.is_object()) {
    e << YAML::BeginMap;
    for (const auto& [key, value] : v.items()) {
      e << YAML::Key;
      EmitString(e, key);
      e << YAML::Value;
      if (auto st = Emit(e, value); !st.ok()) return st;
    }
    e << YAML::EndMap;
  } else if (v.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& item : v) {
      if (auto st = Emit(e, item); !st.ok()) return st;
    }
    e << YAML::EndSeq;
  } else if (v.is_string()) {
    EmitString(e, v.get<std::string>());
  } else if (v.is_boolean()) {
    e << v.get<bool>();
  } else if (v.is_number_unsigned()) {
    e << v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    e << v.get<int64_t>();
  } else {
    return Error(
        "a Kubernetes manifest value must be a string, an integer, a boolean, a list or a map, got " +
        std::string(v.type_name()));
  }
  if (!e.good()) return Error("yaml-cpp could not write the manifest: " + e.GetLastError());
  return Status::Ok();
}

// True when the parsed `node` holds exactly `v`.
bool Same(const YAML::Node& node, const Object& v) {
  if (v.is_object()) {
    if (!node.IsMap() || node.size() != v.size()) return false;
    for (const auto& [key, value] : v.items()) {
      YAML::Node child = node[key];
      if (!child.IsDefined() || !Same(child, value)) return false;
    }
    return true;
  }
  if (v.is_array()) {
    if (!node.IsSequence() || node.size() != v.size()) return false;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!Same(node[i], v[i])) return false;
    }
    return true;
  }
  if (!node.IsScalar()) return false;
  if (v.is_string()) return node.Scalar() == v.get<std::string>();
  if (v.is_boolean()) return node.Tag() == "?" && node.Scalar() == (v.get<bool>() ? "true" : "false");
  if (v.is_number_unsigned()) return node.Tag() == "?" && node.Scalar() == std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return node.Tag() == "?" && node.Scalar() == std::to_string(v.get<int64_t>());
  return false;
}

}  // namespace

bool PlainSafe(const std::string& s) {
  if (s.empty() || IsYaml11Word(s)) return false;
  size_t start = 0;
  if (s.size() > 2 && s[0] == '-' && s[1] == '-' && IsAsciiLetter(s[2])) {
    start = 2;  // a long option, --project
  } else if (!(IsAsciiLetter(s[0]) || s[0] == '_' || s[0] == '/')) {
    return false;  // digits, signs and dots start numbers; other marks are YAML syntax
  }
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (!(IsAsciiLetter(c) || IsDigit(c) || c == '_' || c == '.' || c == '/' || c == '-')) return false;
  }
  return true;
}

Result<std::string> ToYaml(const Object& object) {
  YAML::Emitter e;
  e.SetIndent(2);
  if (auto st = Emit(e, object); !st.ok()) return st.error();
  std::string text = std::string(e.c_str()) + "\n";
  try {
    if (!Same(YAML::Load(text), object)) return Error("the emitted YAML does not read back as the manifest");
  } catch (const YAML::Exception& ex) {
    return Error(std::string("the emitted YAML does not parse: ") + ex.what());
  }
  return text;
}

}  // namespace derived::deploy
