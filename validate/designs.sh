#!/usr/bin/env bash
# make validate (issue 9, Done-when 2): event-related studies with 0.9 s events at TR 2 s and
# jittered onsets, at a short and a long inter-trial interval, simulated with a planted truth;
# each subject prepared three ways (event windows, LSA, LSS: the same cleaning otherwise), decoded
# by ridge (train runs -> the two novel-stimulus test runs) and retrieved. Prints, per design and
# sample mode, the recovery of the planted per-trial responses and decoding top-1 over subjects
# (validate/designs_table.py), and writes the table to $OUT/designs.md.
#   validate/designs.sh [OUT]     (default build/validate/designs; takes a few minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
bin="$root/$BUILD/bin"
out=${1:-$root/$BUILD/validate/designs}
subjects=${V2C_VALIDATE_SUBJECTS:-8}
mkdir -p "$out"
q=(--quiet --force)

# design name, isi_s, isi_jitter_s: short ITI ~3 s between onsets, long ~8 s (0.9 s events).
designs=("short 2.1 1.0" "long 7.1 2.0")
for d in "${designs[@]}"; do
  read -r name isi jitter <<< "$d"
  study="$out/$name/bids"
  echo "== $name ITI: 0.9 s events, fixation ${isi} +- ${jitter} s, TR 2 s, $subjects subjects" >&2
  "$bin/v2c-simulate" "${q[@]}" --seed 9 --out "$study" \
    --set simulate.n_subjects="$subjects" --set simulate.n_categories=8 --set simulate.train_per_category=24 \
    --set simulate.test_per_category=5 --set simulate.train_runs=8 --set simulate.test_runs=2 \
    --set simulate.test_repeats=2 --set simulate.stimulus_s=0.9 --set simulate.isi_s="$isi" \
    --set simulate.isi_jitter_s="$jitter" --set simulate.tr_s=2
  for ((i = 1; i <= subjects; i++)); do
    sub=$(printf "sub-%02d" "$i")
    for mode in window lsa lss; do
      dir="$out/$name/$mode/$sub"
      mkdir -p "$dir"
      case $mode in
        window) set_mode=(--set prepare.sample_mode=event) ;;
        *) set_mode=(--set prepare.sample_mode=glm --set prepare.glm_method="$mode") ;;
      esac
      "$bin/v2c-prepare" "${q[@]}" --bids "$study" --subject "$sub" --task sim \
        --features "$study/stimuli/features.h5" "${set_mode[@]}" --out "$dir/samples.h5"
      "$bin/v2c-ridge" "${q[@]}" --samples "$dir/samples.h5" --out "$dir/ridge.h5" \
        --set ridge.outer=explicit --set 'ridge.explicit_folds=["8 9"]' --set ridge.fit_final=false \
        --set 'ridge.alphas=[0.1, 1, 10, 100, 1000, 1.0e4, 1.0e5, 1.0e6, 1.0e7, 1.0e8]'
      "$bin/v2c-retrieve" "${q[@]}" --predictions "$dir/ridge.h5" --samples "$dir/samples.h5" \
        --set retrieve.queries=novel --set retrieve.among_n=40 --out "$dir/ridge.retrieval.h5"
    done
    echo "   $sub done" >&2
  done
done
/usr/bin/python3 "$root/validate/designs_table.py" "$out" | tee "$out/designs.md"
