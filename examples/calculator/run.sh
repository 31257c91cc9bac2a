#!/usr/bin/env bash
# The calculator environment example, end to end on CPU: a short SFT of the quickstart model on the
# environment's format (sft.yaml), then GRPO in the environment (recipe.yaml); prints the held-out
# greedy episodes' reward, turns and stop reasons by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/calculator/sft.yaml --resume never --force
"$PT" run examples/calculator/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/calculator.log
echo; echo "== held-out greedy episodes, by step"
grep -o 'eval at step [0-9]*:.*' runs/calculator.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/reward ([0-9.e-]+).*eval\/episode\/turns ([0-9.e-]+).*/  step \1: reward \2, turns \3/'
