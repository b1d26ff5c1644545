// Helpers shared by the template module's unit tests (not part of the library).
#pragma once

#include <string>
#include <string_view>

#include "template/template.h"

namespace derived::tmpl::testing {

// Parses and renders `text` as file "t.sql"; returns the output, or "ERROR: " followed by
// the error as the user would see it ("t.sql:3: message").
inline std::string Render(std::string_view text, const Context& globals = {}, const Environment& env = Environment(),
                          int first_line = 1) {
  auto t = Parse({"t.sql", first_line, std::string(text)});
  if (!t.ok()) return "ERROR: " + t.error().ToString();
  auto out = env.Render(**t, globals);
  if (!out.ok()) return "ERROR: " + out.error().ToString();
  return *out;
}

}  // namespace derived::tmpl::testing
