#!/usr/bin/env bash
# The shop example (tools declared in the recipe, one of them an external process), end to end on
# CPU: a short SFT of the quickstart model on price-tool traces (sft.yaml), then GRPO in the tools
# environment (recipe.yaml); prints the held-out greedy episodes' reward and turns by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/shop/sft.yaml --resume never --force
"$PT" run examples/shop/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/shop.log
echo; echo "== held-out greedy episodes, by step"
grep -o 'eval at step [0-9]*:.*' runs/shop.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/reward ([0-9.e-]+).*eval\/episode\/turns ([0-9.e-]+).*/  step \1: reward \2, turns \3/'
