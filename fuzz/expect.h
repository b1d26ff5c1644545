// The one assertion the harnesses use: a broken contract prints what it was and aborts,
// which libFuzzer reports as a crash and keeps the input. stderr is unbuffered, so the
// message reaches the log before abort() ends the process (fuzz/run.sh greps for it).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace derived::fuzz {

inline void Expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n", what);
    std::abort();
  }
}

}  // namespace derived::fuzz
