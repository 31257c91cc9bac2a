#!/usr/bin/env bash
# Training on the GPU end to end (quickstart fixtures, parallel.device: cuda):
#  - bf16 autocast (trainer.precision: bf16) with flash attention and LoRA dropout (draws from the
#    CUDA generator): exact resume after SIGKILL inside step 6 — per-step losses identical — and the
#    checkpoint holds the CUDA RNG state;
#  - flash attention and autocast really ran (the run's closing line: training attention was flash,
#    every call on bf16 inputs);
#  - MFU is reported per step (0 < mfu < 1);
#  - the run learns: loss after 80 steps well below the first step's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_gpu
: "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
recipe=examples/quickstart/recipe.yaml
gpu=(--set run.output_dir="$tmp" --set parallel.device=cuda --set trainer.precision=bf16 --set model.attention=flash
     --set 'model.lora={rank: 8, alpha: 16, dropout: 0.1}' --set optimizer.lr=1e-2)

resume_check gpu "$recipe" loss,grad_norm "${gpu[@]}"
ckpt="$(ls -d "$tmp"/gpu-b/checkpoints/step-* | tail -1)"
[ -f "$ckpt/rng.pt" ] && grep -qa cuda "$ckpt/rng.pt" || fail "no CUDA RNG state in $ckpt/rng.pt"

mfu="$(col "$tmp/gpu-a/metrics.jsonl" mfu)"
[ -n "$mfu" ] || fail "no mfu metric on the GPU"
"$PT_PYTHON" - "$mfu" <<'PY' || fail "mfu out of range: $mfu"
import sys
v = [float(x) for x in sys.argv[1].split()]
assert all(0 < x < 1 for x in v), v
print(f"mfu per step: {' '.join(f'{x:.4f}' for x in v)}")
PY

"$POSTTRAIN" run "$recipe" "${gpu[@]}" --set run.name=learn --set trainer.max_steps=80 --set logging.every=1 \
  --set trainer.eval.every=0 --set checkpoint.save_final=false > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "GPU run"; }
# Flash attention and bf16 autocast really ran: training's attention was flash, every call on bf16 inputs.
ran="$(grep "attention ran:" "$tmp/learn.log")"
grep -q "flash on BFloat16: [0-9]* calls" <<<"$ran" && ! grep -q "on Float" <<<"$ran" || { echo "$ran"; fail "not flash attention on bf16 inputs"; }
echo "$ran"
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY' || fail "the GPU run did not learn"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l and "eval/" not in l]
first, last = rows[0]["loss"], rows[-1]["loss"]
print(f"GPU quickstart: loss {first:.3f} -> {last:.3f} in {len(rows)} steps; "
      f"tokens/s {rows[-1]['tokens_per_s']:.0f}, mfu {rows[-1].get('mfu', 0):.4f}, peak {rows[-1]['peak_memory_gb']:.2f} GB")
assert last < 0.5 * first
PY
echo "gpu train OK"
