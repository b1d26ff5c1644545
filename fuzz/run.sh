#!/usr/bin/env bash
# Runs every libFuzzer harness of a fuzz build for a bounded time (make fuzz, make fuzz-smoke):
#   fuzz/run.sh BUILD_DIR [TARGET...]      TARGET: yaml_loader, template, ... (default: all)
# FUZZ_SECONDS (default 60) per target, FUZZ_JOBS (default 2) targets at once. Each target
# starts from its committed corpus, fuzz/corpus/<target>/, and grows BUILD_DIR/corpus/<target>/;
# its limits are in fuzz/<target>.options. An input that crashes, trips a sanitizer, leaks,
# times out or runs out of memory is left in BUILD_DIR/findings/<target>/ and the script fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)" || exit 2
shift
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-2}"
targets=("$@")
# Leaks are checked after every input, except allocations inside DuckDB (see the file).
export LSAN_OPTIONS="suppressions=$here/../tests/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if [ "${#targets[@]}" -eq 0 ]; then
  for f in "$here"/*.options; do targets+=("$(basename "$f" .options)"); done
fi

# The [libfuzzer] section of a ClusterFuzz-style .options file, as -key=value flags.
flags_of() {
  awk -F' *= *' '/^\[/ { on = ($0 == "[libfuzzer]"); next } on && NF == 2 && $1 !~ /^#/ { printf "-%s=%s\n", $1, $2 }' \
    "$here/$1.options"
}

run_one() {
  local t="$1" bin="$build/fuzz/${1}_fuzzer"
  local corpus="$build/corpus/$t" findings="$build/findings/$t" log="$build/logs/$t.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  local dict=()
  [ -f "$here/$t.dict" ] && dict=("-dict=$here/$t.dict")
  mapfile -t opts < <(flags_of "$t")
  "$bin" "${opts[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "$here/corpus/$t" >"$log" 2>&1
}

# Findings of earlier runs stay where they are; this run reports only its own.
stamp="$build/logs/.started"
mkdir -p "$build/logs"
touch "$stamp"

pids=() names=()
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/${t}_fuzzer" ]; then
    echo "fuzz: no harness $build/fuzz/${t}_fuzzer (build it with make fuzz-build)" >&2
    exit 2
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  echo "fuzz: $t for ${seconds}s"
  run_one "$t" &
  pids+=($!) names+=("$t")
done

failed=0
printf '%-16s %12s %10s %8s  %s\n' target executions exec/s corpus result
for i in "${!pids[@]}"; do
  t="${names[$i]}"
  wait "${pids[$i]}"
  rc=$?
  log="$build/logs/$t.log"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  corpus="$(find "$build/corpus/$t" -type f | wc -l)"
  result=ok
  if [ "$rc" -ne 0 ] || [ -n "$(find "$build/findings/$t" -type f -newer "$stamp")" ]; then
    result="FAILED (exit $rc), see $log"
    failed=1
  fi
  printf '%-16s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$corpus" "$result"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings:" >&2
  find "$build/findings" -type f -newer "$stamp" >&2
  for t in "${names[@]}"; do
    grep -m1 -B2 -A25 -E '^==[0-9]+==ERROR|runtime error|contract violated|ALARM|out-of-memory' \
      "$build/logs/$t.log" >&2 || true
  done
  echo "fuzz: reproduce with BUILD_DIR/fuzz/<target>_fuzzer FILE" >&2
fi
exit "$failed"
