#!/usr/bin/env bash
# make validate's variant studies retrieved again under other retrieve settings (study by
# study, into ALT/<study>/), then the report and the tables: the similarity defaults on the variants.
#   validate/retrieval_settings.sh OUT ALT BIN SET...   e.g. validate/retrieval_settings.sh work/validate
#     work/validate-centred build/bin retrieve.centre=train_mean retrieve.average_repeats=true
# then: python3 validate/variants_table.py ALT top1_forward VARIANT... -- SEED...
set -euo pipefail
out=$1 alt=$2 bin=$3; shift 3
sets=(); for s in "$@"; do sets+=(--set "$s"); done
for study in "$out"/*/; do
  st=$(basename "$study")
  cfg="$out/$st.yaml"
  [[ -f $study/report/results.csv ]] || continue
  for sub in "$study"sub-*/; do
    s=$(basename "$sub")
    mkdir -p "$alt/$st/$s"
    for f in "$sub"*.h5; do
      n=$(basename "$f" .h5)
      case $n in samples|pretrained*|timeseries|*.retrieval) continue;; esac
      ln -sf "$(realpath "$f")" "$alt/$st/$s/$n.h5"
      [[ -f $alt/$st/$s/$n.retrieval.h5 ]] || echo "$bin/v2c-retrieve --config $cfg ${sets[*]} --threads 1 --quiet --predictions $f --samples ${sub}samples.h5 --out $alt/$st/$s/$n.retrieval.h5"
    done
  done
done | xargs -P 4 -I{} sh -c '{}'
for study in "$alt"/*/; do
  st=$(basename "$study")
  [[ -f $study/report/results.csv ]] || "$bin/v2c-report" --config "$out/$st.yaml" --threads 1 --quiet --study "$study" --out "$study/report"
done
