#!/usr/bin/env bash
# A study config: BASE with overrides, written to OUT (shared by validate/variants.sh and
# validate/ssl_control.sh).
#   validate/config_overrides.sh BASE OUT [OVERRIDES]
# OVERRIDES: `section.key: value` lines (newline-separated; empty lines ignored). A key BASE already
# sets in that section is replaced in place (a second `linear:` would leave the first in force); one it
# does not set is added right under the section's header. Every overridden section must exist in BASE.
# OUT is rewritten only when its content changes, so an unchanged config leaves a finished study done
# (make compares times). Exit 1, OUT untouched, when a section is missing.
set -euo pipefail
[[ $# -ge 2 && $# -le 3 ]] || { echo "config_overrides: usage: $0 BASE OUT [OVERRIDES]" >&2; exit 2; }
base=$1 out=$2 extra=${3:-}
[[ -f $base ]] || { echo "config_overrides: base config '$base' not found" >&2; exit 2; }
awk -v extra="$extra" '
  BEGIN { k = split(extra, lines, "\n"); for (i = 1; i <= k; ++i) { if (lines[i] == "") continue
          dot = index(lines[i], "."); colon = index(lines[i], ":"); sec = substr(lines[i], 1, dot - 1)
          key = substr(lines[i], dot + 1, colon - dot - 1); over[sec, key] = "  " substr(lines[i], dot + 1)
          wanted[sec] = 1 } }
  FNR == 1 { sec = "" }
  /^[a-z_]+:/ { sec = $0; sub(/:.*/, "", sec) } /^[^ #a-z]/ { sec = "" }
  FNR == NR { if (sec != "" && match($0, /^  [a-z_]+:/)) has[sec, substr($0, 3, RLENGTH - 3)] = 1
              if (/^[a-z_]+:/) present[sec] = 1
              next }
  /^[a-z_]+:/ { print; for (ok in over) { split(ok, pair, SUBSEP)
                if (pair[1] == sec && !((sec, pair[2]) in has)) print over[ok] }; next }
  sec != "" && match($0, /^  [a-z_]+:/) { key = substr($0, 3, RLENGTH - 3); if ((sec, key) in over) $0 = over[sec, key] }
  { print }
  END { for (w in wanted) if (!(w in present)) { print "config_overrides: " FILENAME " has no section " w ":" > "/dev/stderr"; exit 1 } }' \
  "$base" "$base" > "$out.new" || { rm -f "$out.new"; exit 1; }
cmp -s "$out.new" "$out" && rm "$out.new" || mv "$out.new" "$out"
