#!/usr/bin/env bash
# Recommender example, end to end on CPU: a short SFT of the quickstart model (the base), then GRPO
# against the simulated user (simulator.py); prints the held-out greedy accepted recommendations per
# episode (of 3) by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
[ -d runs/grpo-sft-base/model ] || "$PT" run examples/quickstart/recipe.yaml --set run.name=grpo-sft-base \
  --set trainer.max_steps=80 --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force
"$PT" run examples/recommender/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/recommender.log
echo; echo "== held-out greedy accepted recommendations per episode (of 3), by step"
grep -o 'eval at step [0-9]*:.*' runs/recommender.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/reward ([0-9.e-]+).*/  step \1: \2/'
