#!/usr/bin/env bash
# Multi-turn game learning on the real model (SmolLM2-135M-Instruct, scripts/fetch_smollm2.sh), CPU:
# a short SFT on game traces (examples/guess_number/sft.jsonl: guesses from 1-9 that respect the
# "Higher." / "Lower." feedback, in random order; SFT_STEPS x 4096 tokens), then GRPO in the
# guess_number environment (reward 1 - 0.1 x (turns - 1) when solved within 4 turns; binary search
# always solves 1-9 in 4). The baseline is the same SFT'd model without RL. Both play the 40 games
# at the end of examples/guess_number/prompts.jsonl (GRPO trains on the others) through `posttrain
# eval`: greedy, and sampled at the training temperature (T 1, 4 games each: pass@1 = solve rate).
#   scripts/learn_guess_number.sh [SFT_STEPS=8] [GRPO_STEPS=20]
source "$(dirname "${BASH_SOURCE[0]}")/learn_env.sh"
sft_steps="${1:-8}" grpo_steps="${2:-20}"
out=runs/guess-smol-data
learn_split examples/guess_number/prompts.jsonl 40 "$out"
game="{name: guess_number, low: 1, high: 9, max_turns: 4, max_episode_tokens: 120}"
cat > "$out/tasks.yaml" <<YAML
tasks:
  - name: greedy
    path: test.jsonl
    max_new_tokens: 4
    pass_threshold: 0.1
    environment: $game
  - name: sampled
    path: test.jsonl
    max_new_tokens: 4
    temperature: 1.0
    samples: 4
    pass_k: [1, 4]
    pass_threshold: 0.1
    environment: $game
YAML
"$PT" run examples/guess_number/sft.yaml --resume never --force --set model.path="$M" --set tokenizer.path="$M" \
  --set run.name=guess-smol-sft --set trainer.max_steps="$sft_steps" --set optimizer.lr=1e-4 --set schedule.warmup_steps=1 \
  --set data.seq_len=512 --set trainer.global_batch_tokens=4096 --set logging.every=1
"$PT" eval runs/guess-smol-sft/model --tasks "$out/tasks.yaml" --output "$out/before.json" 2>&1 | tee "$out/before.txt"
"$PT" run examples/guess_number/recipe.yaml --resume never --force --set model.path=runs/guess-smol-sft/model \
  --set tokenizer.path="$M" --set run.name=guess-smol --set trainer.max_steps="$grpo_steps" \
  --set "data.sources[0].path=$ROOT/$out/train.jsonl" --set data.eval_fraction=0 --set data.max_eval_records=0 \
  --set data.seq_len=128 --set trainer.global_batch_tokens=1024 --set trainer.micro_batch_tokens=1024 \
  --set trainer.eval.every=0 --set trainer.eval.at_end=false --set optimizer.lr=1e-5 \
  --set algorithm.grpo.environment.max_episode_tokens=120 --set logging.every=1 --set checkpoint.every=0 2>&1 |
  tee runs/guess-smol.log
"$PT" eval runs/guess-smol/model --tasks "$out/tasks.yaml" --output "$out/after.json" 2>&1 | tee "$out/after.txt"
learn_report "$out" guess-smol "40 held-out games (pass = solved within 4 turns)"
