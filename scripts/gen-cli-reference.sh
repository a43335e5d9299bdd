#!/usr/bin/env bash
# Regenerates README.md's command reference from each stage's own declaration (--help-markdown).
#   scripts/gen-cli-reference.sh          rewrite README.md in place
#   scripts/gen-cli-reference.sh --check  exit 1 if README.md is out of date
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${V2C_BIN_DIR:-$root/build/bin}
readme="$root/README.md"
# Pipeline order first, then any other stage.
order=(info simulate prepare ridge pretrain finetune retrieve report)
stages=()
for s in "${order[@]}"; do [[ -x "$bin/v2c-$s" ]] && stages+=("$s"); done
for f in "$bin"/v2c-*; do
  s=${f##*/v2c-}
  [[ "$s" == tests ]] && continue
  [[ " ${stages[*]} " == *" $s "* ]] || stages+=("$s")
done
ref=$(mktemp)
trap 'rm -f "$ref" "$ref.new"' EXIT
for s in "${stages[@]}"; do "$bin/v2c-$s" --help-markdown >> "$ref"; done
awk -v ref="$ref" '
  /<!-- BEGIN CLI REFERENCE -->/ { print; while ((getline line < ref) > 0) print line; skip = 1; next }
  /<!-- END CLI REFERENCE -->/ { skip = 0 }
  !skip { print }' "$readme" > "$ref.new"
if [[ "${1:-}" == "--check" ]]; then
  if ! cmp -s "$readme" "$ref.new"; then
    echo "README.md's command reference is out of date: run scripts/gen-cli-reference.sh" >&2
    diff "$readme" "$ref.new" | head -20 >&2
    exit 1
  fi
  exit 0
fi
cp "$ref.new" "$readme"
