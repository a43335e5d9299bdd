#!/usr/bin/env bash
# Runs each libFuzzer harness given (fuzz/<target>.cpp, built in $FUZZ_BUILD/bin/fuzz-<target>) for
# $FUZZ_SECONDS (0: replay the seeds and saved crashers once, as make test does), from its seeds (fuzz/corpus/<target>/, tests/regress/fuzz/<target>/) into a work
# corpus in $FUZZ_BUILD/corpus/<target>/. Crashers go to $FUZZ_BUILD/crashes/<target>/.
# Prints one line per target "<target>: N runs, N crashes, N corpus inputs, exit N" and exits 1
# when any target crashed.
set -uo pipefail
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Allocations above 2 GiB fail (return null) instead of being made: what the HDF5 probe child's
# address-space cap does in a plain build (io/h5_probe.cpp), which ASan's shadow memory rules out;
# a damaged HDF5 string's wild length otherwise has the child allocate gigabytes, past -timeout.
# Options already set (the Makefile exports ASAN_OPTIONS) come after these and win.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=2048${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
for t in "$@"; do
  bin="$FUZZ_BUILD/bin/fuzz-$t"
  work="$FUZZ_BUILD/corpus/$t" crashes="$FUZZ_BUILD/crashes/$t" log="$FUZZ_BUILD/logs/$t.log"
  mkdir -p "$work" "$crashes" "$(dirname "$log")"
  seeds=()
  for d in "fuzz/corpus/$t" "tests/regress/fuzz/$t"; do [[ -d $d ]] && seeds+=("$d"); done
  if [[ $FUZZ_SECONDS == 0 ]]; then
    # Replay only (make test): every seed and saved crasher once, nothing written to the corpora.
    "$bin" -runs=0 -timeout=30 -rss_limit_mb=4096 -artifact_prefix="$crashes/" "${seeds[@]}" > "$log" 2>&1
    rc=$?
    n=$(find "${seeds[@]}" -type f | wc -l)
    echo "$t: $n saved inputs replayed under ASan+UBSan, exit $rc (log: $log)"
    [[ $rc -ne 0 ]] && status=1
    continue
  fi
  # One process: -max_total_time bounds it; -timeout flags a hang (30 s per input: the HDF5 probe
  # refuses a small file its child cannot walk after 10 s, h5_probe.h) as a crasher.
  "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=30 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "${seeds[@]}" > "$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  n_crashes=$(find "$crashes" -type f | wc -l)
  n_corpus=$(find "$work" -type f | wc -l)
  echo "$t: ${runs:-0} runs, $n_crashes crashes, $n_corpus corpus inputs, exit $rc (log: $log)"
  if [[ $rc -ne 0 || $n_crashes -gt 0 ]]; then status=1; fi
done
exit $status
