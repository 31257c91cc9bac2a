#!/usr/bin/env bash
# SFT training-step throughput, side by side in one run, on the same model shape, data, tokens per
# step and number of steps:
#   (a) transformers, the usual SFT setup: chat template, loss on assistant tokens only (labels -100
#       elsewhere), conversations in micro-batches padded to their longest, SDPA, AdamW (bf16
#       autocast on GPU);
#   (b) transformers on packed rows with no document mask (fast but wrong: the naive upper bound);
#   (c) posttrain SFT (packed rows with document masks, chunked cross-entropy on trained tokens).
# Plus the practical peak of the device measured in the same run (a large GEMM on the same threads):
# (c)'s useful FLOP rate — body on real tokens, LM head on trained tokens, attention per document —
# as a fraction of it (posttrain's `mfu` metric with logging.peak_tflops set to the GEMM rate). On
# GPU, MFU is against the dense bf16 datasheet peak.
# Data: chat records with lognormal token lengths (median ~245, mean ~400, clipped to the row).
#   scripts/bench_sft.sh            CPU: ~100M-parameter Qwen3-style model with the Qwen3 vocabulary
#                                   (151,669), rows of 2,048, 8,192 tokens per step, 3 timed steps
#   scripts/bench_sft.sh gpu        Llama-3.2-1B and Qwen2.5-0.5B shapes, rows of 4,096, 4 rows per step
#   scripts/bench_sft.sh <preset>   one of: cpu llama3.2-1b qwen2.5-0.5b
# Env: STEPS (timed steps after one warm-up step), THREADS (CPU threads for all three; default all
# cores), OUT (report file; default bench-sft-<preset>.txt in the current directory), PRECISION
# (fp32 or bf16: bf16 autocast with fp32 master weights for all three, and a bf16 GEMM as the peak;
# default fp32 on CPU, bf16 on GPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
arg="${1:-cpu}"
case "$arg" in
  cpu) presets=(cpu); device=cpu; row=2048; tokens=8192; micro_a=2; micro_b=1; steps="${STEPS:-3}" ;;
  gpu) presets=(llama3.2-1b qwen2.5-0.5b); device=cuda; row=4096; tokens=16384; micro_a=8; micro_b=4; steps="${STEPS:-10}" ;;
  llama3.2-1b|qwen2.5-0.5b) presets=("$arg"); device=cuda; row=4096; tokens=16384; micro_a=8; micro_b=4; steps="${STEPS:-10}" ;;
  *) echo "usage: $0 [cpu|gpu|llama3.2-1b|qwen2.5-0.5b]" >&2; exit 2 ;;
esac
[ -x "$PT" ] || { echo "no posttrain binary at $PT (build first: scripts/setup.sh)" >&2; exit 1; }
if [ "$device" = cuda ] && ! "$PT" version | grep -Eq "devices visible: [1-9]"; then
  echo "no GPU visible to posttrain: the $arg preset needs one" >&2; exit 1
fi
export OMP_NUM_THREADS="${THREADS:-$(nproc)}"
export BENCH_PRECISION="${PRECISION:-$([ "$device" = cuda ] && echo bf16 || echo fp32)}"
case "$BENCH_PRECISION" in fp32|bf16) ;; *) echo "PRECISION must be fp32 or bf16, got '$BENCH_PRECISION'" >&2; exit 2;; esac
OUT="${OUT:-$PWD/bench-sft-$arg.txt}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
lr=1e-3
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }

say "# bench_sft $arg — $(date -u +%FT%TZ), posttrain $("$PT" version | head -1 | cut -d' ' -f2-), device $device, threads $OMP_NUM_THREADS, precision $BENCH_PRECISION"
gemm="$("$PY" "$ROOT/scripts/bench_sft.py" gemm "$device")"
peak_tflops="$("$PY" -c "import json,sys; print(json.loads(sys.argv[1])['tflops'])" "$gemm")"
if [ "$device" = cuda ]; then
  datasheet="$("$PY" -c "import torch; n = torch.cuda.get_device_name(); print(989 if ('H100' in n or 'H200' in n) else 312 if 'A100' in n else 0)")"
  say "GEMM (bf16 8192^3): $peak_tflops TFLOP/s measured; datasheet dense bf16 peak used for MFU: $datasheet TFLOP/s"
  mfu_peak="$datasheet"
else
  say "GEMM ($BENCH_PRECISION 4096^3, $OMP_NUM_THREADS threads): $(printf '%.1f' "$("$PY" -c "print($peak_tflops*1000)")") GFLOP/s — the practical peak (c) is measured against"
  mfu_peak="$peak_tflops"
fi

for preset in "${presets[@]}"; do
  d="$tmp/$preset"
  records=$(( tokens * (steps + 3) / 300 > 1000 ? tokens * (steps + 3) / 300 : 1000 ))
  info="$("$PY" "$ROOT/scripts/bench_sft.py" make "$d" "$preset" "$records" "$row")"
  say ""
  say "## $preset: $info; rows of $row, ~$tokens tokens per step, $steps timed steps after 1 warm-up"
  a="$("$PY" "$ROOT/scripts/bench_sft.py" train "$d" padded "$steps" "$tokens" "$row" "$micro_a" "$device" "$lr")"
  b="$("$PY" "$ROOT/scripts/bench_sft.py" train "$d" packed "$steps" "$tokens" "$row" "$micro_b" "$device" "$lr")"
  cat > "$d/recipe.yaml" <<EOF
run: {name: bench, output_dir: $d/runs, seed: 0}
model: {path: $d/model, dtype: float32, attention: $([ "$device" = cuda ] && echo flash || echo sdpa)}
tokenizer: {path: $d/model}
data:
  seq_len: $row
  shuffle: false
  sources: [{path: $d/data.jsonl, format: chat}]
parallel: {device: $device}
optimizer: {lr: $lr, weight_decay: 0.01, betas: [0.9, 0.95]}
schedule: {name: constant, warmup_steps: 0}
trainer:
  max_steps: $(( steps + 1 ))
  global_batch_tokens: $tokens
  max_grad_norm: 1.0
  precision: $BENCH_PRECISION
  eval: {every: 0, at_start: false, at_end: false}
checkpoint: {every: 0, save_final: false}
logging: {every: 1, peak_tflops: $mfu_peak, tensorboard: false}
EOF
  "$PT" run "$d/recipe.yaml" > "$d/ours.log" 2>&1 || { cat "$d/ours.log"; exit 1; }
  "$PY" - "$d/runs/bench/metrics.jsonl" "$a" "$b" "$mfu_peak" "$d/model/config.json" "$device" <<'PY' | tee -a "$OUT"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step_time_s"' in l]
timed = rows[1:]
sec = sum(r["step_time_s"] for r in timed)
c = {"step_time_s": sec / len(timed),
     "tokens_per_s": sum(r["tokens_per_s"] * r["step_time_s"] for r in timed) / sec,
     "trained_tokens_per_s": sum(r["trained_tokens_per_s"] * r["step_time_s"] for r in timed) / sec,
     "peak_memory_gb": rows[-1]["peak_memory_gb"], "final_loss": rows[-1]["loss"], "first_loss": rows[0]["loss"],
     "mfu": sum(r.get("mfu", 0) for r in timed) / len(timed)}
a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
peak, device = float(sys.argv[4]) * 1e12, sys.argv[6]
cfg = json.load(open(sys.argv[5]))
# (a) and (b) on the same useful-work yardstick: 6 x parameters x real tokens (body and head on every token).
n_params = (cfg["num_hidden_layers"] * (cfg["hidden_size"] * (cfg["num_attention_heads"] + 2 * cfg["num_key_value_heads"]) * cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"]) * 2
            + 3 * cfg["hidden_size"] * cfg["intermediate_size"]) + cfg["vocab_size"] * cfg["hidden_size"])
for r in (a, b):
    r["mfu"] = 6 * n_params * r["tokens_per_s"] / peak if peak > 0 else 0
mem = "CUDA peak allocated" if device == "cuda" else "peak RSS"
label = "MFU" if device == "cuda" else "of GEMM rate"
print(f"{'':34} {'real tok/s':>11} {'trained tok/s':>14} {'step s':>8} {mem + ' GB':>20} {label:>13} {'loss first->last':>18}")
for name, r in (("(a) transformers, padded", a), ("(b) transformers, packed no mask", b), ("(c) posttrain", c)):
    print(f"{name:34} {r['tokens_per_s']:11.1f} {r['trained_tokens_per_s']:14.1f} {r['step_time_s']:8.2f} "
          f"{r['peak_memory_gb']:20.2f} {100 * r['mfu']:12.1f}% {r['first_loss']:8.3f}->{r['final_loss']:.3f}")
print(f"ratios in trained tokens/s: (c)/(a) = {c['trained_tokens_per_s'] / a['trained_tokens_per_s']:.2f}x, "
      f"(c)/(b) = {c['trained_tokens_per_s'] / b['trained_tokens_per_s']:.2f}x; "
      f"real tokens/s: (c)/(a) = {c['tokens_per_s'] / a['tokens_per_s']:.2f}x, (c)/(b) = {c['tokens_per_s'] / b['tokens_per_s']:.2f}x; "
      f"peak memory (c)/(b) = {c['peak_memory_gb'] / b['peak_memory_gb']:.2f}x")
print("(a)/(b) " + label + ": 6 x parameters x real tokens; (c): posttrain's mfu metric (body on real tokens, "
      "LM head on trained tokens, attention per document)")
PY
done
echo "report: $OUT"
