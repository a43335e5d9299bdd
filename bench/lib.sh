# The helpers of bench/run.sh, sourced by it (and by tests/test_bench_script.cpp): timing, the
# record of an entry, a Python peer's run, the median of bracketed runs. They read the caller's
# variables: lines (the JSON-lines file record appends to), coretype (recorded in each note) and
# peers (the folder of the peer scripts).

# best_of N CMD...: prints the fastest wall time (s) of N runs.
best_of() {
  local n=$1; shift
  local best=""
  for ((i = 0; i < n; i++)); do
    local t0 t1 s
    t0=$(date +%s.%N)
    "$@" > /dev/null
    t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if [[ -z "$best" ]] || (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
  done
  printf '%.4f' "$best"
}

# record NAME OURS_S PEER_S NOTE (each timing a positive number, else the benchmarks stop)
record() {
  local v ratio
  for v in "$2" "$3"; do
    if ! [[ $v =~ ^[0-9]*\.?[0-9]+$ ]] || (( $(echo "$v <= 0" | bc -l) )); then
      echo "bench: $1: expected two positive timings (ours, peer), found '$2' and '$3'" >&2
      exit 1
    fi
  done
  ratio=$(printf "%.4f" "$(echo "$2 / $3" | bc -l)")
  printf '{"name": "%s", "ours_s": %s, "peer_s": %s, "ratio": %s, "note": "%s"}\n' \
    "$1" "$2" "$3" "$ratio" "$4 (OPENBLAS_CORETYPE=$coretype)" >> "$lines"
}

# peer SCRIPT ARGS...: runs the peer $peers/SCRIPT with Debian's Python and prints what it
# prints. If it fails, the benchmarks stop (exit 1) naming it; its packages come with `make bench`
# (make setup-bench). Call it as var=$(peer ...): in a here-string its exit would not stop us.
peer() {
  local out
  if ! out=$(/usr/bin/python3 "$peers/$1" "${@:2}"); then
    echo "bench: the peer $peers/$1 failed (its message is above); make setup-bench installs what the peers need" >&2
    exit 1
  fi
  echo "$out"
}

# median_line LINE...: the middle line (the lower of the two middle ones for an even count) when
# the lines are sorted by their first field, a number.
median_line() {
  printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"
}
