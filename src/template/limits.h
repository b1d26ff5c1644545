// Bounds on what one render may do, so a typo or a hostile template (nested
// range(1000000) loops, 'x' * 200000000 joined with ~) fails fast with an error naming
// its file and line instead of hanging or exhausting memory. Each is far above what SQL
// templates need: the largest generated SQL we know of is well under 1 MiB and loops run
// over a few hundred items. Internal to the module; not configurable, since no real
// template comes near them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace derived::tmpl {

// Any one string a template builds, its rendered output included (and a {% set %} block's
// or a macro's output).
inline constexpr size_t kMaxStringBytes = size_t{16} << 20;  // 16 MiB

// Any one list a template builds: range(), `*`, `+`, split(), a string's characters.
inline constexpr size_t kMaxListItems = 1'000'000;

// {% for %} iterations of one render, all loops and their `if` filters together.
inline constexpr int64_t kMaxLoopIterations = 1'000'000;

// Bytes one render may build, print, copy or scan, all operations together: about a
// second of work. Bounds loops over large values, which each bound above allows alone.
inline constexpr size_t kMaxRenderWork = size_t{1} << 30;  // 1 GiB

// Macro calls nested in one another: deep enough for any sane nesting, shallow enough to
// stop runaway recursion long before the stack runs out.
inline constexpr int kMaxMacroDepth = 64;

inline Error StringTooLarge() {
  return Error("the string would be larger than " + std::to_string(kMaxStringBytes >> 20) +
               " MiB, the most a template may build");
}

inline Error ListTooLong() {
  return Error("the list would have more than " + std::to_string(kMaxListItems) +
               " items, the most a template may build");
}

}  // namespace derived::tmpl
