#!/usr/bin/env bash
# Issue 13, done-when 1: every reliability reproducer of ../shared/repro/reliability/ (and the
# probe's findings that need no file) through the CLI stage it broke. For each case: the exit
# code against the documented one, the first line of the message, and whether the output or a
# temporary was left behind. Prints one line per case; exits 1 when any case differs.
#   BUILD=build tests/reliability_repros.sh [REPRO_DIR]
# The same cases run as Boost tests in tests/test_reliability.cpp (reproducers, damaged
# samples, full disk, concurrent runs, kill -9); this script is the by-hand check on the CLI.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
bin="$root/$BUILD/bin"
repro=${1:-$root/../shared/repro/reliability}
[[ -d $repro ]] || { echo "reliability_repros: no reproducers in $repro" >&2; exit 2; }
work=$(mktemp -d /tmp/v2c-repros-XXXXXX)
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir -p "$out"
failed=0

# check NAME EXPECTED_CODE OUTPUT_PATH STAGE ARGS...: runs build/bin/v2c-STAGE ARGS.
check() {
  local name=$1 expected=$2 output=$3 stage=$4
  shift 4
  "$bin/v2c-$stage" "$@" > "$work/log" 2>&1
  local rc=$? left=""
  [[ $expected -ne 0 && -n $output && -e $output ]] && left+=" output-left"
  if compgen -G "$out/.*.tmp*" > /dev/null || compgen -G "$out/.*.lock" > /dev/null; then left+=" temporary-left"; fi
  local msg
  msg=$(grep -m1 -E 'error|warning' "$work/log" | cut -c1-160)
  local verdict=ok
  if [[ $rc -ne $expected || -n $left ]]; then verdict=FAIL; failed=1; fi
  printf '%-4s %-34s exit %3s (expected %s)%s  %s\n' "$verdict" "$name" "$rc" "$expected" "$left" "$msg"
  rm -rf "${out:?}"/* "$out"/.[!.]* 2> /dev/null
}

# A tiny study for the cases that need samples.
"$bin/v2c-simulate" --set simulate.n_subjects=1 --set 'simulate.grid_dims=[8,9,8]' --set simulate.feature_dim=16 \
  --quiet --out "$work/bids" || exit 2
"$bin/v2c-prepare" --bids "$work/bids" --subject sub-01 --features "$work/bids/stimuli/features.h5" \
  --out "$work/s1.h5" --quiet || exit 2
s1="$work/s1.h5"

# F4, F10, F13: NIfTI headers.
check "F4 n1_5d_f64.nii" 3 "" info --json "$repro/n1_5d_f64.nii"
check "F4 n2_wrap_* (prepare)" 3 "$out/wrap.h5" prepare --bold "$repro/n2_wrap_bold.nii" \
  --mask "$repro/n2_wrap_mask.nii" --events "$repro/n2_wrap_events.tsv" --out "$out/wrap.h5"
check "F10 n2_dim0_flip.nii" 3 "" info --json "$repro/n2_dim0_flip.nii"
check "F13 negative_voxoffset_trunc" 3 "" info --json "$repro/negative_voxoffset_trunc.nii.gz"
# F8: a .npy header nested 60 KB deep.
check "F8 deep_header.npy (prepare)" 3 "$out/deep.h5" prepare --bids "$work/bids" --subject sub-01 \
  --features "$repro/deep_header.npy" --feature-names "$repro/deep_header_names.txt" --out "$out/deep.h5"
# F7, U4: a NaN voxel in BData, with and without voxel selection.
for sel in 10 0; do
  check "F7/U4 bdata_nan select_voxels=$sel" 3 "$out/bdata.h5" ridge --bdata "$repro/bdata_nan.h5" \
    --features "$repro/bdata_feat.npy" --feature-names "$repro/bdata_names.txt" \
    --set ridge.select_voxels=$sel --out "$out/bdata.h5"
done
# F9, U1: configs.
check "F9 regex_nested.yaml (retrieve)" 2 "$out/r.h5" retrieve --config "$repro/regex_nested.yaml" \
  --predictions "$work/none.h5" --out "$out/r.h5"
check "U1 yaml_complex_key.yaml (ridge)" 2 "$out/r.h5" ridge --config "$repro/yaml_complex_key.yaml" \
  --samples "$s1" --out "$out/r.h5"
# F5, F6, F11 inputs: damaged samples.h5 (mutate_samples.py), decode and encode.
for c in run_strings feature_row_empty ijk_huge ijk_negative data_nan; do
  /usr/bin/python3 "$repro/mutate_samples.py" "$s1" "$work/m.h5" "$c" || exit 2
  check "F5/F6 $c (decode)" 3 "$out/r.h5" ridge --samples "$work/m.h5" --out "$out/r.h5"
  check "F5/F6 $c (encode)" 3 "$out/r.h5" ridge --samples "$work/m.h5" --set ridge.mode=encode --out "$out/r.h5"
done
# F2: an output that is an input.
check "F2 ridge --out = --samples" 2 "" ridge --samples "$s1" --out "$s1" --force
mkdir -p "$work/study/sub-01"
cp "$s1" "$work/study/sub-01/samples.h5"
check "F2 report --out = --study" 2 "" report --study "$work/study" --out "$work/study" --force
[[ -e $work/study/sub-01/samples.h5 ]] || { echo "FAIL F2: the study was deleted"; failed=1; }
# F11: a tiny α gives finite predictions (exit 0), F12: a bad --map is refused before any work.
check "F11 α = 1e-300 float64" 0 "$out/r.h5" ridge --samples "$s1" --set 'ridge.alphas=[1e-300]' \
  --set ridge.precision=float64 --out "$out/r.h5"
check "F12 encode --map x.txt" 2 "$out/r.h5" ridge --samples "$s1" --set ridge.mode=encode --map "$out/x.txt" \
  --out "$out/r.h5"
# F15, F18: sizes and numbers a user gives.
check "F18 --threads 2147483648" 2 "$out/r.h5" ridge --samples "$s1" --threads 2147483648 --out "$out/r.h5"
# (more threads than cores: capped to the cores with a warning)
check "F15 --threads 1000" 0 "$out/r.h5" ridge --samples "$s1" --threads 1000 --out "$out/r.h5"
grep -q "using" "$work/log" || { echo "FAIL F15: no warning that --threads was capped"; failed=1; }
check "F18 explicit_folds 4294967296" 2 "$out/r.h5" ridge --samples "$s1" --set ridge.outer=explicit \
  --set 'ridge.explicit_folds=["4294967296"]' --out "$out/r.h5"
# U3: an inner CV left with one run names the outer fold and train_fraction.
check "U3 train_fraction=0.1" 3 "$out/r.h5" ridge --samples "$s1" --set ridge.train_fraction=0.1 --out "$out/r.h5"
grep -q "outer fold 0 of" "$work/log" || { echo "FAIL U3: the message names no outer fold"; failed=1; }
exit $failed
