#!/usr/bin/env bash
# Tool-use learning on the real model (SmolLM2-135M-Instruct, scripts/fetch_smollm2.sh), CPU: a short
# SFT on a few tool-call traces of two kinds of word problem (sft_words.jsonl: the problem -> a
# calculator call with the expression -> the result; SFT_STEPS x 4096 tokens), then GRPO in the
# calculator environment on word problems of four kinds, two of them new (word_problems.jsonl;
# reward 1 for the right final number); prints the held-out greedy success (with the tool) at the start of GRPO —
# the SFT'd model without RL, the baseline — and as GRPO goes on. Slow on 2 cores (~1 min per GRPO step):
# not part of the test suite; its figures are in the README.
#   scripts/learn_calculator.sh [SFT_STEPS=4] [GRPO_STEPS=16]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
M="$(scripts/fetch_smollm2.sh)"
sft_steps="${1:-4}" grpo_steps="${2:-16}"
"$PT" run examples/calculator/sft.yaml --resume never --force --set model.path="$M" --set tokenizer.path="$M" \
  --set run.name=calc-smol-sft --set trainer.max_steps="$sft_steps" --set optimizer.lr=1e-4 --set schedule.warmup_steps=1 \
  --set "data.sources[0].path=$ROOT/examples/calculator/sft_words.jsonl" \
  --set data.seq_len=512 --set trainer.global_batch_tokens=4096 --set logging.every=1
"$PT" run examples/calculator/recipe.yaml --resume never --force --set model.path=runs/calc-smol-sft/model \
  --set tokenizer.path="$M" --set run.name=calc-smol --set trainer.max_steps="$grpo_steps" \
  --set "data.sources[0].path=$ROOT/examples/calculator/word_problems.jsonl" --set data.seq_len=128 \
  --set trainer.global_batch_tokens=1024 --set trainer.micro_batch_tokens=1024 \
  --set trainer.eval.every=$((grpo_steps / 2)) --set data.max_eval_records=30 --set optimizer.lr=1e-5 \
  --set algorithm.grpo.max_new_tokens=64 --set algorithm.grpo.environment.max_episode_tokens=256 \
  --set logging.every=1 --set checkpoint.every=0 2>&1 | tee runs/calc-smol.log
echo; echo "== held-out greedy success with the calculator tool, by GRPO step (step 0 = the SFT'd model)"
grep -o 'eval at step [0-9]*:.*' runs/calc-smol.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/reward ([0-9.e-]+).*eval\/episode\/tool_calls_ok ([0-9.e-]+).*/  step \1: success \2, tool calls ok per episode \3/'
