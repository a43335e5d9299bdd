#!/usr/bin/env bash
# Runs the Boost.Test module and ends with one line "N passed, N failed, N skipped".
set -uo pipefail
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$BUILD/test"
export V2C_BIN_DIR="$root/$BUILD/bin"
export V2C_TEST_TMP="$root/$BUILD/test/tmp"
rm -rf "$V2C_TEST_TMP" && mkdir -p "$V2C_TEST_TMP"
junit="$BUILD/test/junit.xml"
rm -f "$junit"
"$BUILD/bin/v2c-tests" --logger="HRF,test_suite,stdout:JUNIT,all,$junit" --report_level=short \
  --report_sink=stdout --color_output=no "$@"
rc=$?
if [[ ! -s "$junit" ]]; then
  echo "0 passed, 1 failed (the test binary ended without a report, exit $rc)"
  exit 1
fi
# The first <testsuite ...> element holds the module's totals.
head_tag=$(grep -o '<testsuite [^>]*>' "$junit" | head -n 1)
get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$head_tag"; }
tests=$(get tests); skipped=$(get skipped); errors=$(get errors); failures=$(get failures)
failed=$(( ${errors:-0} + ${failures:-0} ))
passed=$(( ${tests:-0} - ${skipped:-0} - failed ))
echo "${passed} passed, ${failed} failed, ${skipped:-0} skipped"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then exit "$rc"; fi
[[ $failed -eq 0 ]]
