#!/usr/bin/env bash
# Per-rank memory of the data-parallel strategies, measured: a ~214M-parameter Qwen2-shaped model
# (random init, saved by transformers; 16 decoder layers of hidden 1024 / MLP 2816 and a tied
# embedding of 32,000 rows, 15% of it) trains 2 steps on N ranks (default 4, oversubscribed) under
# ddp, fsdp ZeRO-2 and ZeRO-3 (whose ranks read only their own slices of the layers from the
# safetensors files), tensor parallelism over all N ranks, and (N >= 4) ZeRO-3 on the data-parallel
# axis of a 2 x N/2 dp x tp mesh (each rank reads only its share of its slice). Prints
# each rank's peak RSS (getrusage max RSS via /usr/bin/time) and the strategy's parameter /
# gradient / optimizer bytes per rank, with ratios against ddp measured in the same run.
#   scripts/bench_fsdp_memory.sh [RANKS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
N="${1:-4}"
POSTTRAIN="${POSTTRAIN:-$ROOT/build/posttrain}"
source "$ROOT/scripts/python.env"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" - "$tmp/model" "$ROOT/examples/quickstart/tokenizer" <<'PY'
import json, sys, torch
from transformers import Qwen2Config, Qwen2ForCausalLM
out, tok = sys.argv[1], sys.argv[2]
vocab = max(32000, len(json.load(open(f"{tok}/tokenizer.json"))["model"]["vocab"]))
torch.manual_seed(0)
cfg = Qwen2Config(vocab_size=vocab, hidden_size=1024, intermediate_size=2816, num_hidden_layers=16,
                  num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=512, tie_word_embeddings=True,
                  pad_token_id=0, eos_token_id=2)
m = Qwen2ForCausalLM(cfg)
m.save_pretrained(out)
print(f"model: {sum(p.numel() for p in m.parameters()) / 1e6:.1f}M parameters, "
      f"{sum(p.numel() for n, p in m.named_parameters() if '.layers.' in n) / 1e6:.1f}M in decoder layers")
PY
args=(--set model.path="$tmp/model" --set tokenizer.path="$ROOT/examples/quickstart/tokenizer" --set run.output_dir="$tmp/runs"
      --set trainer.max_steps=2 --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false
      --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set checkpoint.save_final=false --set checkpoint.save_final_hf=false
      --set schedule.warmup_steps=1 --set data.seq_len=128 --set trainer.global_batch_tokens=$((128 * N))
      --set trainer.micro_batch_tokens=128)
run() {  # NAME ARGS...
  local name=$1; shift
  OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np "$N" /usr/bin/time -f "maxrss_kb %M" \
    "$POSTTRAIN" run "$ROOT/examples/quickstart/recipe.yaml" "${args[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1 \
    || { tail -30 "$tmp/$name.log"; echo "FAILED: $name"; exit 1; }
}
run ddp
run zero2 --set parallel.strategy=fsdp --set parallel.zero_stage=2
run zero3 --set parallel.strategy=fsdp --set parallel.zero_stage=3
run tp$N --set parallel.tensor_parallel="$N"
names="ddp zero2 zero3 tp$N"
if [ "$N" -ge 4 ] && [ $((N % 2)) -eq 0 ]; then
  run tp$((N / 2))-zero3 --set parallel.tensor_parallel=$((N / 2)) --set parallel.strategy=fsdp --set parallel.zero_stage=3
  names="$names tp$((N / 2))-zero3"
fi
"$PY" - "$tmp" "$N" $names <<'PY'
import re, sys
t, n, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {}
for name in names:
    log = open(f"{t}/{name}.log").read()
    rss = [int(x) / 2**20 for x in re.findall(r"maxrss_kb (\d+)", log)]
    m = re.search(r"parameters ([\d.]+) MB, gradients ([\d.]+) MB, optimizer state ([\d.]+) MB", log)
    if m:
        p, g, o = (float(x) for x in m.groups())
    else:  # tensor parallelism alone: no data-parallel buckets; gradients as large as the slices, 2 moments
        p = float(re.search(r"tensor parallelism: ([\d.]+) MB of parameters", log).group(1))
        g, o = p, 2 * p
    rows[name] = (max(rss), sum(rss) / len(rss), p, g, o)
print(f"{n} ranks, per rank:        peak RSS max / mean (GB)   params MB   grads MB   optimizer MB   p+g+o vs ddp")
base = sum(rows["ddp"][2:])
for name, (mx, mean, p, g, o) in rows.items():
    print(f"  {name:10s}                 {mx:6.2f} / {mean:6.2f}            {p:9.1f}  {g:9.1f}  {o:12.1f}   {(p + g + o) / base:.3f}")
print("peak RSS vs ddp: " + ", ".join(f"{k} {v[0] / rows['ddp'][0]:.2f}" for k, v in rows.items() if k != "ddp"))
PY
