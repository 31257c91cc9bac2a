#!/usr/bin/env bash
# Reward-model example, end to end on CPU: a short SFT of the quickstart model (the base), then a
# Bradley-Terry reward model on the DPO example's pairs; prints held-out pairwise accuracy by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/quickstart/recipe.yaml --set run.name=rm-sft-base --set trainer.max_steps=160 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force
"$PT" run examples/reward_model/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/reward-model.log
echo; echo "== held-out pairwise accuracy (chosen scored above rejected), by step"
grep -o 'eval at step [0-9]*:.*' runs/reward-model.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/accuracy ([0-9.e-]+).*eval\/margin ([-0-9.e]+).*/  step \1: accuracy \2, margin \3/'
