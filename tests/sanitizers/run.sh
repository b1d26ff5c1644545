#!/usr/bin/env bash
# Runs the test suite of a sanitizer build (make test-asan, make test-tsan):
#   tests/sanitizers/run.sh BUILD_DIR [ctest arguments...]
# Every sanitized process, the test binary and each `derived` it spawns, writes its
# reports to BUILD_DIR/sanitizer-logs/ and exits 86: a report fails the run even when it
# came from a process a test killed or whose exit code it did not look at.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"
shift
sanitizer="$(sed -n 's/^DERIVED_SANITIZE:STRING=//p' "$build/CMakeCache.txt")"
logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"

common="exitcode=86:log_path=$logs/report:print_stacktrace=1"
case "$sanitizer" in
  address)
    # Leak checking stays on (the default): see README.md for what it covers.
    export ASAN_OPTIONS="$common:check_initialization_order=1:detect_leaks=1"
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="$common:halt_on_error=1"
    ;;
  thread)
    export TSAN_OPTIONS="$common:suppressions=$here/tsan.supp:second_deadlock_stack=1:history_size=4"
    ;;
  *)
    echo "run.sh: $build is not a sanitizer build (DERIVED_SANITIZE='$sanitizer')" >&2
    exit 2
    ;;
esac

status=0
(cd "$build" && ctest --output-on-failure "$@") || status=$?
reports=("$logs"/report*)
if [ -e "${reports[0]}" ]; then
  echo "sanitizer reports (${#reports[@]}), in $logs:" >&2
  for r in "${reports[@]}"; do
    echo "=== $r" >&2
    head -n 60 "$r" >&2
  done
  status=1
fi
exit "$status"
