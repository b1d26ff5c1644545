// Fuzzes the template engine (template/template.h): parse, then render with the globals a
// table's SQL sees. An input holding a line "-- template --" is split there: the text
// before it is registered as a macro file (macros/*.sql), the text after is the template.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "template/source_map.h"
#include "template/template.h"

#include "expect.h"

namespace {

using derived::Result;
using derived::tmpl::Value;

constexpr std::string_view kSplit = "\n-- template --\n";

using derived::fuzz::Expect;

// What compile/render.cc gives a table's template, with a fixed project's vars.
derived::tmpl::Context Globals() {
  derived::tmpl::Context ctx;
  ctx["window_start"] = Value("TIMESTAMP '2024-01-03 00:00:00'");
  ctx["window_end"] = Value("TIMESTAMP '2024-01-04 00:00:00'");
  ctx["is_initial_build"] = Value(false);
  ctx["this"] = Value("core.t");
  ctx["var"] = Value::Callable([](const std::vector<Value>& args,
                                  const std::vector<std::pair<std::string, Value>>& kwargs) -> Result<Value> {
    if (!kwargs.empty() || args.empty() || args.size() > 2 || !args[0].is_string()) {
      return derived::Error("var() takes a variable name and an optional default");
    }
    const std::string& name = args[0].as_string();
    if (name == "ids") return Value::List({Value(1), Value(2), Value(3)});
    if (name == "platforms") return Value::Dict({{"ios", Value("iOS")}, {"android", Value("Android")}});
    if (name == "n") return Value(3);
    if (args.size() == 2) return args[1];
    return derived::Error("var('" + name + "') is not defined");
  });
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace derived::tmpl;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view macros, text = input;
  if (size_t at = input.find(kSplit); at != std::string_view::npos) {
    macros = input.substr(0, at);
    text = input.substr(at + kSplit.size());
  }

  Environment env;
  if (!macros.empty()) (void)env.AddMacroFile({"macros/m.sql", 1, std::string(macros)});
  auto t = Parse({"tables/core/t.yaml", 7, std::string(text)});
  if (!t.ok()) {
    (void)t.error().ToString();
    return 0;
  }
  static const Context globals = Globals();
  SourceMap map;
  auto out = env.Render(**t, globals, &map);
  if (!out.ok()) {
    (void)out.error().ToString();
    return 0;
  }
  // Rendering is a pure function of the template and the globals.
  auto again = env.Render(**t, globals);
  Expect(again.ok() && *again == *out, "rendering twice gives the same text");
  if (const std::string* plain = (*t)->plain_text()) Expect(*plain == *out, "a tagless template renders as itself");
  for (size_t offset : {size_t{0}, out->size() / 2, out->size()}) {
    Origin o = map.At(offset);
    Expect(o.line >= 0 && o.column >= 0, "source map positions are not negative");
  }
  return 0;
}
