#!/usr/bin/env bash
# Asynchronous GRPO speed on CPU ranks: steps/s of 1 training rank + 1 rollout rank (one thread
# each, OMP_NUM_THREADS=1: the 2 cores of a small machine) at max_staleness K = 0 (synchronous:
# each rank idles while the other works), 1 and 2, in one run, with the ratio to K = 0 and each
# run's learning curve (held-out greedy reward against training wall-clock), so faster does not
# hide worse. Workload: examples/grpo (reversal, group 8 x 16 prompts) on the quickstart-SFT'd tiny
# model; the engine holds MAX_BATCH sequences at once (128 completions a step decode in waves), so that
# generation and the update take comparable time.
#   scripts/bench_async_grpo.sh [STEPS=40] [MAX_NEW_TOKENS=24] [MAX_BATCH=8]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
steps="${1:-40}" new="${2:-24}" slots="${3:-8}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
export OMP_NUM_THREADS=1
echo "machine: $(getconf _NPROCESSORS_ONLN) cores; 2 MPI ranks (1 training + 1 rollout), 1 thread each; $steps steps, max_new_tokens $new, max_batch $slots"
timeout 900 "$PT" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=base --set trainer.max_steps=80 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false \
  --set checkpoint.save_final=false > "$tmp/base.log" 2>&1 || { tail "$tmp/base.log"; exit 1; }
for k in 0 1 2 2p; do
  partial=false; [ "$k" = 2p ] && partial=true
  timeout 1800 mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1 "$PT" run examples/grpo/recipe.yaml \
    --set run.output_dir="$tmp" --set run.name="k$k" --set model.path="$tmp/base/model" --set trainer.max_steps="$steps" \
    --set trainer.eval.every=10 --set logging.every=1 --set checkpoint.every=0 --set checkpoint.save_final=false \
    --set algorithm.grpo.max_new_tokens="$new" --set algorithm.grpo.max_batch="$slots" --set algorithm.grpo.rollout_ranks=1 \
    --set algorithm.grpo.max_staleness="${k%p}" --set algorithm.grpo.partial_rollouts=$partial > "$tmp/k$k.log" 2>&1 || { tail -30 "$tmp/k$k.log"; exit 1; }
done
"$PY" - "$tmp" <<'PY'
import json, sys
runs = {}
for k in ("0", "1", "2", "2p"):
    rows = [json.loads(l) for l in open(f"{sys.argv[1]}/k{k}/metrics.jsonl")]
    train = [r for r in rows if "step_time_s" in r]
    ev = {r["step"]: r["eval/reward"] for r in rows if "eval/reward" in r}
    # Steady state: the first step (start-up, the K + 1 batches submitted at once) left out.
    t = sum(r["step_time_s"] for r in train[1:])
    wall, curve = 0.0, [(0.0, ev.get(0))]
    for r in train:
        wall += r["step_time_s"]
        if r["step"] in ev:
            curve.append((wall, ev[r["step"]]))
    gen = sum(r.get("time/generate_s", 0) for r in train[1:]) / max(1, len(train) - 1)
    wait = sum(r.get("time/rollout_wait_s", 0) for r in train[1:]) / max(1, len(train) - 1)
    runs[k] = dict(sps=(len(train) - 1) / t, curve=curve, gen=gen, wait=wait, step=t / max(1, len(train) - 1))
base = runs["0"]["sps"]
print(f"{'K':>3} {'steps/s':>8} {'vs K=0':>7} {'step s':>7} {'generate s':>10} {'trainer waits s':>15}  held-out reward (wall-clock s: reward)")
for k, r in runs.items():
    curve = ", ".join(f"{w:.0f}: {v:.2f}" for w, v in r["curve"] if v is not None)
    print(f"{k:>3} {r['sps']:8.3f} {r['sps'] / base:6.2f}x {r['step']:7.3f} {r['gen']:10.3f} {r['wait']:15.3f}  {curve}")
PY
