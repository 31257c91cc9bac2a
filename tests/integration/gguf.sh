#!/usr/bin/env bash
# GGUF export (posttrain export --format gguf), checked with the gguf package and transformers' GGUF loader:
#  - tiny Llama (tied), Mistral, Qwen2 and a LoRA run (merged on export): f32 files give the HF
#    model's logits exactly through transformers' loader (which undoes llama.cpp's q/k permutation);
#    the tokenizer it builds from the file encodes like the HF one; q8_0 within a stated bound
#  - every tensor read back by the gguf package: llama.cpp names, values as written, q8_0 blocks equal
#    to gguf.quants.quantize (Llama, Qwen3 with its q/k norms and head_dim 32)
#  - Qwen3-MoE: experts stacked per layer as llama.cpp's ffn_*_exps; transformers' loader gives the HF
#    logits (f32 exact, q8_0 within the bound); a dense layer (mlp_only_layers) refused
#  - RoPE scaling: Llama 3's as llama.cpp's rope_freqs.weight (equal to convert_hf_to_gguf's formula),
#    linear and YaRN as rope.scaling keys; all read back by our import with transformers' logits
#  - Gemma 3: llama.cpp's norm names and (1 + w) convention; transformers' loader and our import give
#    the HF logits; a layer pattern llama.cpp's gemma3 does not run refused; its SentencePiece-style
#    tokenizer written as llama.cpp's 'llama' vocabulary, read back exactly by transformers and by us
#  - refusals: dynamic RoPE scaling (not written), an unknown --type
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
check() { "$PT_PYTHON" tests/reference/gguf_check.py "$@" 2>&1 | grep -v "Loading\|Converting\|it/s\|^$" || fail "gguf check: $*"; }
tiny() {  # tiny ARCH: the test model with the quickstart tokenizer (ids < its vocabulary)
  mkdir -p "$tmp/hf-$1" "$tmp/g-$1"
  cp tests/assets/models/"$1"/{config.json,generation_config.json,model.safetensors} "$tmp/hf-$1/"
  cp examples/quickstart/tokenizer/* "$tmp/hf-$1/"
}
for m in llama_tied mistral qwen2 qwen3; do
  tiny "$m"
  for t in f32 q8_0; do
    "$POSTTRAIN" export "$tmp/hf-$m" "$tmp/g-$m/tiny-$t.gguf" --format gguf --type "$t" > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export $m $t"; }
    check "$tmp/hf-$m" "$tmp/g-$m/tiny-$t.gguf" --tensors
  done
  # (transformers' loader maps Qwen3's head_dim from its default, not the file's key_length: reader checks only)
  if [ "$m" != qwen3 ]; then
    check "$tmp/hf-$m" "$tmp/g-$m/tiny-f32.gguf" --logits-atol 1e-5
    check "$tmp/hf-$m" "$tmp/g-$m/tiny-q8_0.gguf" --logits-rel 0.06
    "$POSTTRAIN" export "$tmp/hf-$m" "$tmp/g-$m/tiny-bf16.gguf" --format gguf --type bf16 > /dev/null 2>&1 || fail "bf16 $m"
    check "$tmp/hf-$m" "$tmp/g-$m/tiny-bf16.gguf" --logits-rel 0.06
  fi
done

# A LoRA run: the run directory exported with its adapter merged; against the run's merged HF model.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=lora --set trainer.max_steps=4 \
  --set 'model.lora={rank: 8, alpha: 16, target_modules: [q_proj, k_proj, v_proj, o_proj, up_proj], merge_on_export: true}' \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set schedule.warmup_steps=0 \
  > "$tmp/lora.log" 2>&1 || { cat "$tmp/lora.log"; fail "LoRA run"; }
mkdir -p "$tmp/g-lora"
"$POSTTRAIN" export "$tmp/lora" "$tmp/g-lora/lora-f32.gguf" --format gguf --type f32 > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "LoRA export"; }
grep -q "merged" "$tmp/export.log" || fail "the LoRA adapter was not merged"
cp examples/quickstart/tokenizer/* "$tmp/lora/model/merged/" 2>/dev/null || true
check "$tmp/lora/model/merged" "$tmp/g-lora/lora-f32.gguf" --logits-atol 1e-4

# export_and_check NAME HF_DIR [CHECK_ARGS...]: f32 and q8_0 exports, every tensor read back by the gguf
# package, and transformers' loader's logits (f32 to 1e-5, q8_0 within 6% of the largest |logit|).
export_and_check() {
  local name="$1" hf="$2" t; shift 2
  mkdir -p "$tmp/g-$name"
  for t in f32 q8_0; do
    "$POSTTRAIN" export "$hf" "$tmp/g-$name/$name-$t.gguf" --format gguf --type "$t" > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export $name $t"; }
    check "$hf" "$tmp/g-$name/$name-$t.gguf" --tensors
  done
  check "$hf" "$tmp/g-$name/$name-f32.gguf" --logits-atol 1e-5 "$@"
  check "$hf" "$tmp/g-$name/$name-q8_0.gguf" --logits-rel 0.06 "$@"
}
refused() {  # refused "message" ARGS...
  local msg="$1"; shift
  if "$POSTTRAIN" export "$@" > "$tmp/out" 2>&1; then fail "accepted: $*"; fi
  grep -q "$msg" "$tmp/out" || { cat "$tmp/out"; fail "expected '$msg'"; }
}
# Qwen3-MoE (every layer with experts, as llama.cpp's qwen3moe has them): experts stacked per layer and
# projection; transformers loads the file with the HF config (its GGUF config map does not read
# expert_feed_forward_length); a model with a dense layer is refused.
"$PT_PYTHON" tests/reference/make_moe.py "$tmp/hf-moe" 1 0 2> /dev/null
export_and_check moe "$tmp/hf-moe" --config-from-hf
"$PT_PYTHON" tests/reference/make_moe.py "$tmp/hf-moe-dense" 1 1 2> /dev/null

# RoPE scaling. Llama 3's is written as llama.cpp's rope_freqs.weight: per-dimension divisors equal to
# those convert_hf_to_gguf computes (its formula, written out below); linear as rope.scaling keys.
# Reading either file back (our import) gives transformers' logits of the HF model; yarn is refused.
tiny llama
"$POSTTRAIN" export "$tmp/hf-llama" "$tmp/g-llama/l3.gguf" --format gguf --type f32 > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export llama3 RoPE"; }
"$PT_PYTHON" - "$tmp/hf-llama/config.json" "$tmp/g-llama/l3.gguf" <<'PY' || fail "rope_freqs.weight"
import json, math, sys
import numpy as np
from gguf import GGUFReader
cfg = json.load(open(sys.argv[1]))
rp = cfg["rope_parameters"]
got = [t for t in GGUFReader(sys.argv[2]).tensors if t.name == "rope_freqs.weight"][0].data
dim, factor, lo, hi, old = cfg["head_dim"], rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
want = []
for freq in 1.0 / (rp["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float32) / dim)):
    wavelen = 2 * math.pi / freq
    if wavelen < old / hi:
        want.append(1.0)
    elif wavelen > old / lo:
        want.append(factor)
    else:
        smooth = (old / wavelen - lo) / (hi - lo)
        want.append(1 / ((1 - smooth) / factor + smooth))
err = float(np.abs(np.asarray(got, np.float64) - want).max())
print(f"llama3 RoPE: rope_freqs.weight {[round(float(x), 4) for x in got]}, max |diff| from llama.cpp's formula {err:.1e}")
assert err < 1e-6 and len(set(np.round(want, 4))) == 3, (list(got), want)  # the three regimes all present
PY
"$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/hf-linear" llama linear 2> /dev/null
cp examples/quickstart/tokenizer/* "$tmp/hf-linear/"
"$POSTTRAIN" export "$tmp/hf-linear" "$tmp/g-llama/linear.gguf" --format gguf --type f32 > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export linear RoPE"; }
# YaRN (factor 4 over an original context of 16; the reference documents run to 33 tokens) as the
# rope.scaling keys llama.cpp reads (its YaRN is transformers' with the default betas and mscale).
for q in yarn dynamic; do
  "$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/hf-$q" qwen2 "$q" 2> /dev/null
  cp examples/quickstart/tokenizer/* "$tmp/hf-$q/"
done
"$POSTTRAIN" export "$tmp/hf-yarn" "$tmp/g-llama/yarn.gguf" --format gguf --type f32 > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export yarn RoPE"; }
"$PT_PYTHON" - "$tmp/g-llama/yarn.gguf" <<'PY' || fail "yarn keys"
import sys
from gguf import GGUFReader
f = GGUFReader(sys.argv[1])
v = lambda k: f.fields[k].contents()
got = (v("qwen2.rope.scaling.type"), v("qwen2.rope.scaling.factor"), v("qwen2.rope.scaling.original_context_length"))
print("yarn RoPE keys:", got)
assert got == ("yarn", 4.0, 16), got
PY
for m in llama linear yarn; do
  f="$tmp/g-llama/$m.gguf"; [ "$m" = llama ] && f="$tmp/g-llama/l3.gguf"
  ref_model="$tmp/hf-$m" POSTTRAIN_CACHE="$tmp/cache" parity "$m RoPE via GGUF" "$f"
done
# Gemma 3 in the shape llama.cpp's gemma3 runs (every 6th layer global, windowed RoPE base 10000,
# query_pre_attn_scalar = head_dim; linear scaling on the global layers): the sandwich norms under
# llama.cpp's names and the (1 + w) norms stored plus one; transformers' loader gives the HF logits (with
# the HF config: its gemma3 map reads neither layer_types nor query_pre_attn_scalar) and so does our
# import. A model llama.cpp would run differently (another layer pattern) is refused.
"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/hf-gemma3" llamacpp 2> /dev/null
"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/hf-gemma3-alt" 2> /dev/null
export_and_check gemma3 "$tmp/hf-gemma3" --config-from-hf
ref_model="$tmp/hf-gemma3" POSTTRAIN_CACHE="$tmp/cache" parity "gemma3 via GGUF" "$tmp/g-gemma3/gemma3-f32.gguf"
refused "llama.cpp's gemma3 makes every 6th layer global" "$tmp/hf-gemma3-alt" "$tmp/x.gguf" --format gguf
# Gemma 3's own tokenizer (SentencePiece-style BPE with byte fallback, 262,144 tokens) beside a model of its
# size, as llama.cpp's 'llama' vocabulary: transformers' GGUF loader builds from the file a tokenizer
# that encodes ~2,800 varied texts exactly as the HF one, and our import of the file encodes them as that.
mkdir -p "$tmp/g3tok"
zstd -dcq tests/assets/tokenizers/gemma3/tokenizer.json.zst > "$tmp/g3tok/tokenizer.json"
cp tests/assets/tokenizers/gemma3/tokenizer_config.json "$tmp/g3tok/"
"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/hf-gemma3-tok" llamacpp "$tmp/g3tok" 2> /dev/null
"$POSTTRAIN" export "$tmp/hf-gemma3-tok" "$tmp/g-gemma3/tok.gguf" --format gguf --type f16 > "$tmp/export.log" 2>&1 || { cat "$tmp/export.log"; fail "export gemma3 with its tokenizer"; }
zstd -dcq tests/assets/tokenizers/english-sentences.txt.zst > "$tmp/sentences.txt"
"$PT_PYTHON" tests/reference/tokenizer_texts.py "$tmp/sentences.txt" tests/assets/tokenizers/hard_suite.json > "$tmp/texts.jsonl"
"$PT_PYTHON" - "$tmp/g-gemma3/tok.gguf" "$tmp/hf-gemma3-tok" "$tmp/texts.jsonl" <<'PY' 2>&1 | grep -v "it/s" || fail "gemma3 tokenizer through GGUF"
import json, os, sys, transformers as tf
g = tf.AutoTokenizer.from_pretrained(os.path.dirname(sys.argv[1]), gguf_file=os.path.basename(sys.argv[1]))
h = tf.AutoTokenizer.from_pretrained(sys.argv[2])
texts = [json.loads(l)["text"] for l in open(sys.argv[3], encoding="utf-8")]
bad = [t for t in texts if g(t)["input_ids"] != h(t)["input_ids"]]
print(f"gemma3 tokenizer: transformers from our GGUF vs the HF tokenizer, {len(texts) - len(bad)}/{len(texts)} texts identical")
assert not bad, bad[:3]
PY
POSTTRAIN_CACHE="$tmp/cache" "$POSTTRAIN" tokenize --tokenizer "$tmp/g-gemma3/tok.gguf" --jsonl "$tmp/texts.jsonl" --ids-only > "$tmp/ours.jsonl" 2> "$tmp/log" || { cat "$tmp/log"; fail "tokenize gemma3 GGUF"; }
"$PT_PYTHON" tests/reference/gguf_tokenizer_check.py "$tmp/g-gemma3/tok.gguf" "$tmp/texts.jsonl" "$tmp/ours.jsonl" 2>&1 | grep "ids identical" || fail "our gemma3 GGUF tokenizer"

refused "uses rope_scaling 'dynamic'" "$tmp/hf-dynamic" "$tmp/x.gguf" --format gguf
refused "layer 1 is dense" "$tmp/hf-moe-dense" "$tmp/x.gguf" --format gguf
refused "expected f32, f16, bf16 or q8_0" "$tmp/hf-qwen2" "$tmp/x.gguf" --format gguf --type q4_0
[ ! -e "$tmp/x.gguf" ] && [ ! -e "$tmp/x.gguf.tmp" ] || fail "a refused export left a file behind"
echo "gguf ok"
