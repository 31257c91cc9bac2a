#!/usr/bin/env bash
# SFT -> reward model -> RL with it, end to end on CPU (about 10 minutes on 2 cores):
#  1. base.yaml: a new 6-layer model SFT'd on the quickstart's reversal chats (the reward model's base)
#  2. recipe.yaml: a Bradley-Terry reward model on the DPO example's pairs; prints held-out pairwise accuracy
#  3. grpo.yaml: the quickstart policy after a short SFT (as examples/grpo) trained by GRPO on that reward
#     model's scores, with exact match logged beside it as a monitor (weight 0); prints both by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/reward_model/base.yaml --resume never --force
"$PT" run examples/reward_model/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/reward-model.log
"$PT" run examples/quickstart/recipe.yaml --set run.name=grpo-sft-base --set trainer.max_steps=80 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force
"$PT" run examples/reward_model/grpo.yaml --resume never --force 2>&1 | tee runs/reward-model-grpo.log
echo; echo "== reward model: held-out pairwise accuracy (chosen scored above rejected), by step"
grep -o 'eval at step [0-9]*:.*' runs/reward-model.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/accuracy ([0-9.e-]+).*eval\/margin ([-0-9.e]+).*/  step \1: accuracy \2, margin \3/'
echo "== GRPO on the reward model: held-out greedy reward-model score and exact match (the monitor), by step"
grep -o 'eval at step [0-9]*:.*' runs/reward-model-grpo.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/rewards\/model ([-0-9.e]+).*eval\/rewards\/exact_match ([0-9.e-]+).*/  step \1: reward model \2, exact match \3/'
echo "== GRPO on the reward model: the step's samples (temperature 1): mean scores, and how often the reward model"
echo "   orders two samples of a prompt as exact match does (rewards/exact_match_agreement; 0.5 = chance)"
grep '"rewards/model"' runs/reward-model-grpo/metrics.jsonl | while read -r line; do
  get() { grep -oE "\"$1\": ?[-0-9.e]+" <<< "$line" | grep -oE '[-0-9.e]+$'; }
  printf '  step %s: reward model %.3f, exact match %.3f, agreement %.3f\n' "$(get step)" "$(get rewards/model)" \
    "$(get rewards/exact_match)" "$(get rewards/exact_match_agreement)"
done
