// The whole command line as a function, so the service can run the commands the CLI
// sends it with the same parser and output.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace derived {
class Service;
}

namespace derived::cli {

// Runs `derived <args...>` (args without the program name) and returns its exit code.
// `service`: the running service the command executes in, or nullptr in a plain process
// (which sends warehouse commands to the project's service when one is running).
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, Service* service);

}  // namespace derived::cli
