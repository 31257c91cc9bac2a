#!/usr/bin/env bash
# Tool-use learning on the real model (SmolLM2-135M-Instruct, scripts/fetch_smollm2.sh), CPU: a short
# SFT on a few tool-call traces of two kinds of word problem (sft_words.jsonl: the problem -> a
# calculator call with the expression -> the result; SFT_STEPS x 4096 tokens), then GRPO in the
# calculator environment on word problems of four kinds, two of them new (word_problems.jsonl less
# its last 80 lines; reward 1 for the right final number). The baseline is the same SFT'd model
# without RL. Both are scored by `posttrain eval` on the 80 held-out problems (with the tool, as
# episodes of the calculator environment): greedy, and sampled at the training temperature (T 1,
# 4 episodes each: pass@1, pass@4). Slow on 2 cores (~40 s per GRPO step): not part of the test
# suite; its figures are in the README.
#   scripts/learn_calculator.sh [SFT_STEPS=4] [GRPO_STEPS=16]
source "$(dirname "${BASH_SOURCE[0]}")/learn_env.sh"
sft_steps="${1:-4}" grpo_steps="${2:-16}"
out=runs/calc-smol-data
learn_split examples/calculator/word_problems.jsonl 80 "$out"
cat > "$out/tasks.yaml" <<'YAML'
tasks:
  - name: greedy
    path: test.jsonl
    max_new_tokens: 64
    environment: {name: calculator, max_turns: 3, max_episode_tokens: 256}
  - name: sampled
    path: test.jsonl
    max_new_tokens: 64
    temperature: 1.0
    samples: 4
    pass_k: [1, 4]
    environment: {name: calculator, max_turns: 3, max_episode_tokens: 256}
YAML
"$PT" run examples/calculator/sft.yaml --resume never --force --set model.path="$M" --set tokenizer.path="$M" \
  --set run.name=calc-smol-sft --set trainer.max_steps="$sft_steps" --set optimizer.lr=1e-4 --set schedule.warmup_steps=1 \
  --set "data.sources[0].path=$ROOT/examples/calculator/sft_words.jsonl" \
  --set data.seq_len=512 --set trainer.global_batch_tokens=4096 --set logging.every=1
"$PT" eval runs/calc-smol-sft/model --tasks "$out/tasks.yaml" --output "$out/before.json" 2>&1 | tee "$out/before.txt"
"$PT" run examples/calculator/recipe.yaml --resume never --force --set model.path=runs/calc-smol-sft/model \
  --set tokenizer.path="$M" --set run.name=calc-smol --set trainer.max_steps="$grpo_steps" \
  --set "data.sources[0].path=$ROOT/$out/train.jsonl" --set data.eval_fraction=0 --set data.max_eval_records=0 --set data.seq_len=128 \
  --set trainer.global_batch_tokens=1024 --set trainer.micro_batch_tokens=1024 --set trainer.eval.every=0 \
  --set trainer.eval.at_end=false --set optimizer.lr=1e-5 \
  --set algorithm.grpo.max_new_tokens=64 --set algorithm.grpo.environment.max_episode_tokens=256 \
  --set logging.every=1 --set checkpoint.every=0 2>&1 | tee runs/calc-smol.log
"$PT" eval runs/calc-smol/model --tasks "$out/tasks.yaml" --output "$out/after.json" 2>&1 | tee "$out/after.txt"
learn_report "$out" calc-smol "held-out word problems (80, with the calculator tool)"
