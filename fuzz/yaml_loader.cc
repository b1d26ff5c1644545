// Fuzzes the YAML loader: one input is read as derived.yaml, as a table file and as a
// source file (config/loader.h), the three readers every project file goes through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/loader.h"

#include "expect.h"

namespace {

// The loader's contract: a file whose definition it returns added no error.
using derived::fuzz::Expect;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace derived;
  const std::string text(reinterpret_cast<const char*>(data), size);

  Project project;
  project.root = "/nonexistent";
  Diagnostics project_diags;
  Status st = ParseProjectFile("derived.yaml", text, &project, &project_diags);
  Expect(st.ok() == !project_diags.has_errors(), "ParseProjectFile fails exactly when it reports an error");

  Diagnostics table_diags;
  auto table = ParseTableFile("tables/core/t.yaml", text, "core", "t", project, &table_diags);
  Expect(!table || !table_diags.has_errors(), "a returned table has no errors");
  if (table) Expect(!table->dataset.empty() && !table->name.empty(), "a table has a dataset and a name");

  Diagnostics source_diags;
  auto source = ParseSourceFile("sources/raw/s.yaml", text, "raw", "s", &source_diags);
  Expect(!source || !source_diags.has_errors(), "a returned source has no errors");
  for (const auto* diags : {&project_diags, &table_diags, &source_diags}) {
    for (const auto& d : diags->all()) (void)d.ToString();
  }
  return 0;
}
