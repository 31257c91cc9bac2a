#!/usr/bin/env bash
# Generated tokens/s of `posttrain generate` against transformers' generate() on the same model,
# batch, prompt and output lengths, measured in one run (model loading excluded on both sides;
# greedy; no early stop, so both produce exactly batch x new tokens).
#   scripts/bench_generate.sh              CPU presets: the quickstart model, and a ~50M-parameter
#                                          Qwen2-shaped model; batch 64, 64-token prompts, 128 new tokens
#   scripts/bench_generate.sh decode           batched decode's useful FLOP rate as a fraction of the GEMM rate
#                                          (SmolLM2-135M, 64 sequences; see decode_fraction below)
#   scripts/bench_generate.sh gpu          Qwen2.5-0.5B shape (random init), bf16, batch 64,
#                                          128-token prompts, 256 new tokens (transformers: ~826 tokens/s on an H100)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
preset="${1:-cpu}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

bench() {  # NAME MODEL_DIR BATCH PROMPT_LEN NEW DEVICE DTYPE
  local name="$1" dir="$2" batch="$3" plen="$4" new="$5" device="$6" dtype="$7"
  "$PY" - "$dir" "$batch" "$plen" "$new" "$device" "$dtype" "$tmp/prompts.jsonl" "$tmp/hf.txt" <<'PY'
import json, sys, time, torch, transformers as tf
d, batch, plen, new, device, dtype, prompts_out, result = sys.argv[1], *map(int, sys.argv[2:5]), *sys.argv[5:]
dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
m = tf.AutoModelForCausalLM.from_pretrained(d, dtype=dt, attn_implementation="sdpa").to(device).eval()
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, m.config.vocab_size, (batch, plen), generator=g)
with open(prompts_out, "w") as f:
    for row in ids.tolist():
        f.write(json.dumps({"prompt_ids": row}) + "\n")
ids = ids.to(device)
with torch.no_grad():
    m.generate(ids[:, :8], attention_mask=torch.ones_like(ids[:, :8]), do_sample=False, max_new_tokens=4,
               min_new_tokens=4, pad_token_id=0)  # warm-up
    if device == "cuda": torch.cuda.synchronize()
    t = time.perf_counter()
    out = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=new,
                     min_new_tokens=new, eos_token_id=None, pad_token_id=0)
    if device == "cuda": torch.cuda.synchronize()
    dt_s = time.perf_counter() - t
open(result, "w").write(f"{(out.shape[1] - plen) * batch / dt_s}")
PY
  "$PT" generate --model "$dir" --input "$tmp/prompts.jsonl" --output "$tmp/ours.jsonl" --max-new-tokens "$new" \
    --stop-id -1 --max-batch "$batch" --device "$device" --dtype "$dtype" --no-progress 2> "$tmp/ours.log" ||
    { cat "$tmp/ours.log"; exit 1; }
  local ours hf
  ours="$(grep -o '([0-9.]* tokens/s)' "$tmp/ours.log" | grep -o '[0-9.]*' | head -1)"
  hf="$(cat "$tmp/hf.txt")"
  "$PY" -c "o, h = $ours, $hf; print(f'{\"$name\":<28} batch $batch, prompt $plen, new $new, $device $dtype:  posttrain {o:8.0f} tok/s   transformers {h:8.0f} tok/s   ratio {o / h:5.2f}x')"
}

make_model() {  # DIR VOCAB HIDDEN LAYERS HEADS KV INTER
  "$PY" - "$@" <<'PY'
import sys, torch, transformers as tf
d, vocab, h, layers, heads, kv, inter = sys.argv[1], *map(int, sys.argv[2:])
torch.manual_seed(0)
cfg = tf.Qwen2Config(vocab_size=vocab, hidden_size=h, intermediate_size=inter, num_hidden_layers=layers,
                     num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=1024,
                     tie_word_embeddings=True, eos_token_id=2, pad_token_id=0)
tf.Qwen2ForCausalLM(cfg).save_pretrained(d, safe_serialization=True)
print(f"{d}: {sum(p.numel() for p in tf.Qwen2ForCausalLM(cfg).parameters()) / 1e6:.1f}M parameters", file=sys.stderr)
PY
  cp "$ROOT"/examples/quickstart/tokenizer/* "$1/"
}

# Batched decode against the machine's GEMM rate (issue: decode at the limit): the real 135M model (a
# random-init model of its shape where it is not cached), 64 sequences, 40-token prompts. Decode alone
# is timed as the difference of a 96-token and a 16-token run (prefill and start-up cancel out); its
# useful FLOPs are 2 x (every weight the token passes, the LM head included) + attention over the
# context. Reported as a fraction of (a) a 4096^3 GEMM and (b) the decode step's own GEMM shapes at
# M = 64 (each weight, weighted by its FLOPs), both timed here on the same threads.
decode_fraction() {
  local M name="SmolLM2-135M-Instruct"
  if ! M="$("$ROOT/scripts/fetch_smollm2.sh" 2>/dev/null)"; then
    M="$tmp/smol" name="a random-init model of SmolLM2-135M's shape"; make_model "$M" 49152 576 30 9 3 1536 > /dev/null 2>&1
  fi
  "$PY" - "$tmp/decode-prompts.jsonl" <<'PY'
import json, random, sys
r = random.Random(0)
with open(sys.argv[1], "w") as f:
    for _ in range(64):
        f.write(json.dumps({"prompt_ids": [r.randint(100, 30000) for _ in range(40)]}) + "\n")
PY
  local t=()
  for new in 16 96; do
    "$PT" generate --model "$M" --input "$tmp/decode-prompts.jsonl" --output "$tmp/decode.jsonl" --max-new-tokens "$new" \
      --stop-id -1 --max-batch 64 --no-progress 2> "$tmp/decode.log" || { cat "$tmp/decode.log"; exit 1; }
    t+=("$(grep -o 'tokens in [0-9.]*s' "$tmp/decode.log" | grep -o '[0-9.]*')")
  done
  "$PY" - "$M" "${t[0]}" "${t[1]}" "$name" <<'PY'
import json, sys, time, torch
torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "2")))
c = json.load(open(sys.argv[1] + "/config.json"))
t16, t96 = float(sys.argv[2]), float(sys.argv[3])
h, L, inter, V = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
hd = c.get("head_dim", h // c["num_attention_heads"])
q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
shapes = [(q, h), (kv, h), (kv, h), (h, q), (inter, h), (inter, h), (h, inter)]  # [out, in] per layer
weights = L * sum(o * i for o, i in shapes) + V * h
tokens = 64 * 80
ctx = 40 + (16 + 96) / 2  # mean context of the timed tokens
flops = tokens * (2 * weights + 4 * L * ctx * c["num_attention_heads"] * hd)
rate = flops / (t96 - t16) / 1e9
def best(f, reps):
    for _ in range(3): f()
    out = 0.0
    for _ in range(3):
        s = time.perf_counter()
        for _ in range(reps): f()
        out = max(out, 1 / ((time.perf_counter() - s) / reps))
    return out
a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
big = 2 * 4096 ** 3 * best(lambda: a @ b, 5) / 1e9
x = torch.randn(64, max(h, inter))
secs = 0.0
for o, i in shapes + [(V, h)]:
    w = torch.randn(o, i)
    xi = x[:, :i].contiguous()
    n = L if (o, i) != (V, h) else 1
    secs += n / best(lambda: torch.nn.functional.linear(xi, w), 20 if o == V else 200)
same = 2 * 64 * weights / secs / 1e9
print(f"decode, 64 sequences, {sys.argv[4]}: {tokens / (t96 - t16):.0f} tok/s, "
      f"{rate:.0f} GFLOP/s useful = {100 * rate / big:.0f}% of a 4096^3 GEMM ({big:.0f} GFLOP/s) and "
      f"{100 * rate / same:.0f}% of the step's own GEMM shapes at M = 64 ({same:.0f} GFLOP/s), timed in this run")
PY
}

if [ "$preset" = decode ]; then
  decode_fraction
elif [ "$preset" = gpu ]; then
  make_model "$tmp/qwen05" 151936 896 24 14 2 4864
  bench "Qwen2.5-0.5B shape" "$tmp/qwen05" 64 128 256 cuda bfloat16
else
  mkdir -p "$tmp/quick"; cp "$ROOT"/examples/quickstart/model/* "$ROOT"/examples/quickstart/tokenizer/* "$tmp/quick/"
  bench "quickstart (0.43M)" "$tmp/quick" 64 64 128 cpu float32
  make_model "$tmp/m50" 32000 512 12 8 2 1536
  bench "Qwen2-shaped ~50M" "$tmp/m50" 64 64 128 cpu float32
fi
