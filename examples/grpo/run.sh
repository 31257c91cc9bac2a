#!/usr/bin/env bash
# GRPO example, end to end on CPU: a short SFT of the quickstart model (the base), then GRPO with an
# exact-match reward; prints the held-out greedy exact-match reward by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/quickstart/recipe.yaml --set run.name=grpo-sft-base --set trainer.max_steps=80 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force
"$PT" run examples/grpo/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/grpo.log
echo; echo "== held-out greedy exact match (reward), by step"
grep -o 'eval at step [0-9]*:.*' runs/grpo.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/rewards\/exact_match ([0-9.e-]+).*/  step \1: \2/'
