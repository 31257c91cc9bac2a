#!/usr/bin/env bash
# NCCL readiness: on a machine with one or more GPUs, runs the NCCL path of a posttrain build —
# world size 1 (a c10d ProcessGroupNCCL of one rank) and every GPU present (mpirun, one rank per
# GPU) — with ddp, fsdp ZeRO-2 / ZeRO-3 and tensor parallelism (tp 2, dp 2 x tp 2 with ddp and
# ZeRO-3), checks the multi-GPU losses against one GPU (fp32), and prints each run's per-step time
# and exposed communication time (comm_wait_s).
#   scripts/gpu/nccl_check.sh [BUILD_DIR]      (scripts/gpu/check.sh runs it after building)
# Without a GPU it says so and exits 1.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-$ROOT/build-gpu}}"
BIN="$BUILD_DIR/posttrain"
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
  echo "no GPU on this machine (nvidia-smi finds no NVIDIA device): no NCCL path to check here." >&2
  exit 1
fi
[ -x "$BIN" ] || { echo "no posttrain binary at $BIN (build first: scripts/gpu/check.sh)" >&2; exit 1; }
"$BIN" version | grep -q "nccl *yes" || { echo "$BIN was built without NCCL" >&2; exit 1; }
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
gpus=$(nvidia-smi -L | wc -l)
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
args=(--set run.output_dir="$tmp" --set trainer.max_steps="${STEPS:-20}" --set trainer.eval.every=0
      --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set logging.every=1 --set schedule.warmup_steps=2
      --set parallel.device=cuda --set parallel.backend=nccl --set trainer.precision=fp32 --set parallel.timeout_s=300)
failed=0
run() {  # NAME RANKS ARGS...
  local name=$1 n=$2; shift 2
  local launch=()
  [ "$n" -gt 1 ] && launch=(mpirun --allow-run-as-root -np "$n")
  if "${launch[@]}" "$BIN" run "$ROOT/examples/quickstart/recipe.yaml" "${args[@]}" --set run.name="$name" "$@" \
       > "$tmp/$name.log" 2>&1; then
    "$PY" - "$tmp" "$name" <<'PY'
import json, sys
t, r = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(f"{t}/{r}/metrics.jsonl") if '"loss"' in l]
steps = rows[2:] or rows  # past warm-up
st = sum(x["step_time_s"] for x in steps) / len(steps)
cw = sum(x.get("comm_wait_s", 0.0) for x in steps) / len(steps)
print(f"{r:12s} final loss {rows[-1]['loss']:.6f}  step {st * 1e3:8.2f} ms  comm wait {cw * 1e3:8.2f} ms/step")
PY
  else
    tail -20 "$tmp/$name.log"; echo "FAILED: $name"; failed=1
  fi
}
echo "# NCCL check: $gpus GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | xargs)"
run single 1
run zero3-ws1 1 --set parallel.strategy=fsdp --set parallel.zero_stage=3
if [ "$gpus" -gt 1 ]; then
  run ddp-ws$gpus "$gpus"
  run zero2-ws$gpus "$gpus" --set parallel.strategy=fsdp --set parallel.zero_stage=2
  run zero3-ws$gpus "$gpus" --set parallel.strategy=fsdp --set parallel.zero_stage=3
  # Tensor parallelism over NCCL (the quickstart model has 2 key/value heads: tp 2), and a dp x tp
  # mesh when 4 or more GPUs are present.
  run tp2 2 --set parallel.tensor_parallel=2
  if [ "$gpus" -ge 4 ]; then
    run dp2tp2 4 --set parallel.tensor_parallel=2
    run dp2tp2-zero3 4 --set parallel.tensor_parallel=2 --set parallel.strategy=fsdp --set parallel.zero_stage=3
  fi
fi
"$PY" - "$tmp" <<'PY' || failed=1
import glob, json, os, sys
t = sys.argv[1]
def losses(r):
    return [json.loads(l)["loss"] for l in open(f"{t}/{r}/metrics.jsonl") if '"loss"' in l]
ref = losses("single")
for m in sorted(glob.glob(f"{t}/*/metrics.jsonl")):
    r = os.path.basename(os.path.dirname(m))
    rel = max(abs(a - b) / abs(a) for a, b in zip(ref, losses(r)))
    print(f"{r:12s} vs one GPU: losses within {rel:.1e} (relative)")
    assert rel < 1e-4, r
PY
[ "$failed" -eq 0 ] && echo "NCCL check: passed" || { echo "NCCL check: FAILED"; exit 1; }
