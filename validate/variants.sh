#!/usr/bin/env bash
# make validate (part 2): the default study on each simulation variant over several seeds; every model at
# each training fraction, the mean and the spread (SD) across seeds of its mean over subjects,
# written as a Markdown table (docs/validation.md records one run of it). Not part of `make test`.
# Variants: current, linear, voxel_nonlinear, correlated_noise, no_shared_structure (simulate: options)
# shuffled_pooled (the current simulation with study.control: shuffled_pooled_labels, the negative
# control that permutes every pooled subject's stimulus labels; table 4 compares it with current) and
# untrained_backbone (pretrain.lr 1e-12: the pooled models' backbones stay at their random start, so
# what fine-tuning through a frozen backbone gives without any pretraining).
#   validate/variants.sh [SEEDS...]      default seeds: 1 2 3 4 5
# Environment: BUILD (build dir, default build), OUT (default work/validate), METRIC (default
# top1_forward), THREADS, SUBJECTS (simulate.n_subjects of every variant study, default 3) and
# TRAIN_PER_CATEGORY / TRAIN_PER_SUBJECT (the training pool and each subject's share, default 36 and
# 116: half the default study's) — smaller studies than the default one, so that 25 fit in the
# validation budget of a shared 2-core machine (docs/validation.md says which were run) — JOBS (make
# -j, default 2), VARIANTS (a subset of the variants, in that order; the table still covers all that
# ran, so several runs on disjoint subsets can share OUT). Each (variant, seed) is one `make CONFIG=...` study under $OUT; an interrupted
# run resumes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-work/validate}
metric=${METRIC:-top1_forward}
subjects=${SUBJECTS:-3}
per_category=${TRAIN_PER_CATEGORY:-36}
per_subject=${TRAIN_PER_SUBJECT:-116}
jobs=${JOBS:-2}
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3 4 5)
# variant name -> config overrides, one `section.key: value` per line
declare -A variants=(
  [current]=""
  [linear]="simulate.linear: true"
  [voxel_nonlinear]="simulate.voxel_nonlinearity: 3.0"
  [correlated_noise]="simulate.noise_smoothness_vox: 1.5"
  [no_shared_structure]="simulate.shared_latent: false"
  [shuffled_pooled]="study.control: shuffled_pooled_labels"
  [untrained_backbone]="pretrain.lr: 1.0e-12"
)
# Every variant study is labelled-only, as docs/validation.md's runs were: configs/default.yaml's
# spontaneous activity, rest runs, unlabelled subjects and self-supervised rows (issue 11) are
# switched off, so the tables stay comparable with the recorded ones and the SSL stage's cost
# stays out of the validation budget.
base="simulate.spontaneous_pct: 0
simulate.rest_runs: 0
simulate.unlabelled_subjects: 0
study.self_supervised: false"
order=(current linear voxel_nonlinear correlated_noise no_shared_structure shuffled_pooled untrained_backbone)
read -r -a run_order <<< "${VARIANTS:-${order[*]}}"
for v in "${run_order[@]}"; do
  [[ -n ${variants[$v]+set} ]] || { echo "validate: unknown variant '$v' in VARIANTS (known: ${order[*]})" >&2; exit 2; }
done
mkdir -p "$out"
for v in "${run_order[@]}"; do
  for s in "${seeds[@]}"; do
    study="$v-seed$s"
    cfg="$out/$study.yaml"
    # configs/default.yaml with the study's size and the variant's settings in their sections
    # (validate/config_overrides.sh: a key the file already sets is replaced there).
    validate/config_overrides.sh configs/default.yaml "$cfg" "$base
simulate.n_subjects: $subjects
simulate.train_per_category: $per_category
simulate.train_per_subject: $per_subject
${variants[$v]}" || { echo "validate: configs/default.yaml lacks a section of variant $v" >&2; exit 1; }
    echo "validate: $study" >&2
    make --no-print-directory -j"$jobs" CONFIG="$cfg" SEED="$s" WORK="$out/$study" >&2
  done
done
# The tables (validate/variants_table.py): every model at each fraction, mean and SD across seeds of
# the mean over subjects; each model against ridge, paired within subject, with sign-flip tests.
python3 validate/variants_table.py "$out" "$metric" "${order[@]}" -- "${seeds[@]}" > "$out/table.md"
cat "$out/table.md"
