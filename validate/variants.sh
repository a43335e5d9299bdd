#!/usr/bin/env bash
# make validate (part 2): the default study on each simulation variant over several seeds; every model at
# each training fraction, the mean and the spread (SD) across seeds of its mean over subjects,
# written as a Markdown table (docs/validation.md records one run of it). Not part of `make test`.
#   validate/variants.sh [SEEDS...]      default seeds: 1 2 3 4 5
# Environment: BUILD (build dir, default build), OUT (default work/validate), METRIC (default
# top1_forward), THREADS, SUBJECTS (simulate.n_subjects of every variant study, default 4: the
# default study's 8 cost 25 x 8 pretrainings; docs/validation.md says which was run), JOBS (make
# -j, default 2). Each (variant, seed) is one `make CONFIG=...` study under $OUT; an interrupted
# run resumes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-work/validate}
metric=${METRIC:-top1_forward}
subjects=${SUBJECTS:-4}
jobs=${JOBS:-2}
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3 4 5)
# variant name -> simulate overrides (YAML lines under `simulate:`)
declare -A variants=(
  [current]=""
  [linear]="  linear: true"
  [voxel_nonlinear]="  voxel_nonlinearity: 3.0"
  [correlated_noise]="  noise_smoothness_vox: 1.5"
  [no_shared_structure]="  shared_latent: false"
)
order=(current linear voxel_nonlinear correlated_noise no_shared_structure)
mkdir -p "$out"
for v in "${order[@]}"; do
  for s in "${seeds[@]}"; do
    study="$v-seed$s"
    cfg="$out/$study.yaml"
    # configs/default.yaml with $subjects subjects and the variant's lines inserted under `simulate:`.
    awk -v extra="${variants[$v]}" -v n="$subjects" '/^  n_subjects:/ { $0 = "  n_subjects: " n }
      { print } /^simulate:/ && extra != "" { print extra }' configs/default.yaml > "$cfg"
    grep -q "^  n_subjects: $subjects\$" "$cfg" || { echo "validate: no n_subjects line in configs/default.yaml" >&2; exit 1; }
    echo "validate: $study" >&2
    make --no-print-directory -j"$jobs" CONFIG="$cfg" SEED="$s" WORK="$out/$study" >&2
  done
done
# The table: per variant, model and fraction, the mean over subjects of $metric in each seed's
# results.csv, then the mean and SD (n - 1) of those across seeds.
{
  echo "| variant | model | train_fraction | $metric: mean over seeds | SD across seeds | seeds |"
  echo "|---|---|---|---|---|---|"
  for v in "${order[@]}"; do
    for s in "${seeds[@]}"; do
      csv="$out/$v-seed$s/report/results.csv"
      [[ -f $csv ]] || continue
      awk -F, -v m="$metric" -v seed="$s" 'NR > 1 && $4 == m && $5 != "NaN" { k = $2 "," $3; sum[k] += $5; n[k]++ }
        END { for (k in sum) print k "," seed "," sum[k] / n[k] }' "$csv"
    done | sort -t, -k1,1 -k2,2g | awk -F, -v v="$v" '
      { k = $1 "," $2; if (!(k in n)) order[++m] = k; n[k]++; s[k] += $4; ss[k] += $4 * $4 }
      END { for (i = 1; i <= m; ++i) { k = order[i]; split(k, a, ",");
              mean = s[k] / n[k]; sd = n[k] > 1 ? sqrt((ss[k] - n[k] * mean * mean) / (n[k] - 1)) : 0;
              if (sd != sd || sd < 0) sd = 0;
              printf "| %s | %s | %s | %.3f | %.3f | %d |\n", v, a[1], a[2], mean, sd, n[k] } }'
  done
} > "$out/table.md"
cat "$out/table.md"
