#!/usr/bin/env bash
# DPO example, end to end on CPU: a short SFT of the quickstart model (the base, ~70% of reversals
# right), then DPO on preference pairs; prints held-out reward accuracy and greedy exact match.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/quickstart/recipe.yaml --set run.name=dpo-sft-base --set trainer.max_steps=80 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force
"$PT" run examples/dpo/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/dpo.log
echo; echo "== held-out DPO reward accuracy and greedy exact match (vs the chosen answers), by step"
grep -o 'eval at step [0-9]*:.*' runs/dpo.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/rewards\/accuracy ([0-9.e-]+).*eval\/accuracy ([0-9.e-]+).*/  step \1: reward accuracy \2, exact match \3/'
