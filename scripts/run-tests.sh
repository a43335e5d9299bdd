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
# Count test cases in the JUnit log: skipped ones carry <skipped/>, failed ones <failure> or <error>.
read -r cases skipped failed < <(awk '
  /<testcase/ { n++; inside = 1; bad = 0; skip = 0 }
  inside && /<skipped/ { skip = 1 }
  inside && /<(failure|error)[ >]/ { bad = 1 }
  inside && (/<\/testcase>/ || /<testcase[^>]*\/>/) { if (skip) s++; else if (bad) f++; inside = 0 }
  END { print n + 0, s + 0, f + 0 }' "$junit")
passed=$(( cases - skipped - failed ))
echo "${passed} passed, ${failed} failed, ${skipped:-0} skipped"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then exit "$rc"; fi
[[ $failed -eq 0 ]]
