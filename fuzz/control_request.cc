// Fuzzes the control endpoint's request handling: the body of POST /v1/command becomes
// the command's arguments (service/control.h), or the error the service answers 400 with.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "service/control.h"

#include "expect.h"

namespace {

using derived::fuzz::Expect;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto args = derived::ParseCommandRequest(body);
  if (!args.ok()) {
    Expect(!args.error().message.empty(), "a refused request says why");
    return 0;
  }
  // What the CLI sends for these arguments (SendCommand) is accepted as the same arguments.
  std::string resent = nlohmann::json{{"args", *args}}.dump();
  auto again = derived::ParseCommandRequest(resent);
  Expect(again.ok() && *again == *args, "re-sending the parsed arguments gives the same arguments");
  return 0;
}
