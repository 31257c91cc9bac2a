#!/usr/bin/env bash
# Generated tokens/s of `posttrain generate` against transformers' generate() on the same model,
# batch, prompt and output lengths, measured in one run (model loading excluded on both sides;
# greedy; no early stop, so both produce exactly batch x new tokens).
#   scripts/bench_generate.sh              CPU presets: the quickstart model, and a ~50M-parameter
#                                          Qwen2-shaped model; batch 64, 64-token prompts, 128 new tokens
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

if [ "$preset" = gpu ]; then
  make_model "$tmp/qwen05" 151936 896 24 14 2 4864
  bench "Qwen2.5-0.5B shape" "$tmp/qwen05" 64 128 256 cuda bfloat16
else
  mkdir -p "$tmp/quick"; cp "$ROOT"/examples/quickstart/model/* "$ROOT"/examples/quickstart/tokenizer/* "$tmp/quick/"
  bench "quickstart (0.43M)" "$tmp/quick" 64 64 128 cpu float32
  make_model "$tmp/m50" 32000 512 12 8 2 1536
  bench "Qwen2-shaped ~50M" "$tmp/m50" 64 64 128 cpu float32
fi
