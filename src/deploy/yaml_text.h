// Kubernetes objects as YAML text, written with yaml-cpp's emitter. An object is built as
// JSON (nlohmann::ordered_json: strings, integers, booleans, arrays, objects, in the order
// they were added) and emitted so that every string reads back as that same string under
// YAML 1.1, as Kubernetes' decoder reads it ("true", "8080", "yes" and "0755" are quoted).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace derived::deploy {

using Object = nlohmann::ordered_json;

// The YAML document for `object`. Multi-line text that a literal block keeps exactly
// (one final newline, no leading blank or indented first line, printable) is written as
// `|`, everything else as a plain or double-quoted scalar. The text is parsed back and
// compared with `object` before it is returned; an error means the emitter could not
// represent a value (a float, a null: never produced here).
Result<std::string> ToYaml(const Object& object);

// True when `text` may be written as a plain YAML scalar and still read back as this
// string under YAML 1.1 (no number, boolean, null or syntax look-alike).
bool PlainSafe(const std::string& text);

}  // namespace derived::deploy
