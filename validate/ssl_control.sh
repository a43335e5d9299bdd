#!/usr/bin/env bash
# Issue 11, done-when 3: the self-supervision negative control over seeds. For each seed, the default
# study (configs/default.yaml: 8 held-out subjects + 2 unlabelled ones, every row incl. encoder-ssl-*)
# twice, both at study.train_fractions [0.25] only:
#   linked   configs/default.yaml as is (the spontaneous fluctuation is read out through each voxel's
#            stimulus read-out: unlabelled data say something about it)
#   control  simulate.spontaneous_linked: false (read out through permuted rows: they say nothing)
# then validate/ssl_control_table.py's table (SSL rows against their supervised counterparts and
# ridge, in each study and linked minus control; docs/validation.md records one run).
#   validate/ssl_control.sh [SEEDS...]      default seeds: 1 2 3
# Environment: OUT (default build/validate/ssl_control), METRIC (default top1_forward), JOBS (make -j,
# default 2), THREADS (each stage's --threads, default 1: JOBS stages at once), STUDIES (a subset of
# "linked control", in that order). Runs seed by seed, linked then control, so the first complete
# pair comes early; each (study, seed) is one `make CONFIG=...` under
# $OUT/<study>-seed<S>; an interrupted run resumes. Not part of make test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-build/validate/ssl_control}
metric=${METRIC:-top1_forward}
jobs=${JOBS:-2}
threads=${THREADS:-1}
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3)
declare -A studies=(
  [linked]=""
  [control]="simulate.spontaneous_linked: false"
)
order=(linked control)
read -r -a run_order <<< "${STUDIES:-${order[*]}}"
for v in "${run_order[@]}"; do
  [[ -n ${studies[$v]+set} ]] || { echo "ssl_control: unknown study '$v' in STUDIES (known: ${order[*]})" >&2; exit 2; }
done
base="study.train_fractions: [0.25]"
mkdir -p "$out"
for s in "${seeds[@]}"; do
  for v in "${run_order[@]}"; do
    study="$v-seed$s"
    cfg="$out/$study.yaml"
    validate/config_overrides.sh configs/default.yaml "$cfg" "$base
${studies[$v]}"
    echo "ssl_control: $study ($(date -u +%H:%M:%S))" >&2
    start=$SECONDS
    make --no-print-directory -j"$jobs" THREADS="$threads" CONFIG="$cfg" SEED="$s" WORK="$out/$study" >&2
    echo "ssl_control: $study done in $((SECONDS - start)) s" >&2
  done
done
/usr/bin/python3 validate/ssl_control_table.py "$out" "$metric" -- "${seeds[@]}" > "$out/table.md"
cat "$out/table.md"
