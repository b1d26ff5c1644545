// The `derived` executable.
#include <sys/stat.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Everything Derived creates is private to the user running it (files 0600, folders
  // 0700): the warehouse and the WAL beside it, which DuckDB creates as 0666 less the
  // umask (so the umask is the one place that covers them), .derived/ with the compile
  // cache, service.json and checkouts, and whatever `query --write` writes. Set once here,
  // before any thread starts; it only ever removes permissions from the user's own umask.
  // `init` is the exception: it writes the user's project files, which follow their umask.
  if (args.empty() || args[0] != "init") {
    mode_t user = umask(077);
    umask(user | 077);
  }
  return derived::cli::RunCli(args, std::cout, std::cerr, nullptr);
}
