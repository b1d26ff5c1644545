// Bounds on what a project's files may hold, so a hostile or mistaken file (a YAML alias
// bomb, a table pointing `sql_file` at a huge file) fails fast with an error naming it
// instead of running for minutes or exhausting memory. Each is far above any real project.
#pragma once

#include <cstddef>

namespace derived {

// Any one file Derived reads from a project: derived.yaml, a source or table YAML, a
// macro file, a table's sql_file. The largest hand-written ones are tens of kilobytes.
inline constexpr size_t kMaxProjectFileBytes = size_t{4} << 20;  // 4 MiB

// Values in one YAML file once aliases are expanded, each use of `*name` counting its
// anchor's values again: 711 bytes of nine nested aliases otherwise expand to a billion.
// A real derived.yaml with a long `vars` list holds a few thousand.
inline constexpr size_t kMaxYamlValues = 100'000;

// Nesting of mappings and lists in one YAML file, aliases expanded (an alias used inside
// its own anchor would nest for ever). Real files nest four or five deep.
inline constexpr int kMaxYamlDepth = 64;

}  // namespace derived
