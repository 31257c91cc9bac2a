#!/usr/bin/env bash
# GGUF import: a .gguf file wherever a model directory goes (converted once into a cached HF dir).
#  - every readable type (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS) dequantizes exactly as
#    the gguf package does, under HF names with llama.cpp's q/k row order undone; config as implied
#  - round trip: our f32 / f16 export of tiny Llama, Qwen2, Qwen3 and Qwen3-MoE (experts unstacked)
#    imports back to the HF tensors
#  - the tokenizer built from the metadata gives transformers' ids on ~2,800 varied texts (GPT-2 and
#    Qwen2 split regexes, with and without BOS; a SentencePiece BPE vocabulary — Mistral's 32,000 pieces —
#    whose merges are recovered from the scores, BOS by default)
#  - the quickstart run from its model as a GGUF file (tokenizer from the file too) logs the same
#    losses as from the HF directory; generate reads the file
#  - refusals, naming the file and what is wrong: bad magic, truncated metadata, truncated tensor data,
#    an unknown architecture, an unread quantization type (IQ2_XXS), rope_freqs no Llama 3 scaling gives, a WordPiece
#    vocabulary (the weights still load; the tokenizer is refused)
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
export POSTTRAIN_CACHE="$tmp/cache"  # converted copies land here, not in the user's cache

zstd -dcq tests/assets/tokenizers/mistral/tokenizer.json.zst > "$tmp/spm-tokenizer.json"
"$PT_PYTHON" tests/reference/gguf_import_fixture.py "$tmp/fx" examples/quickstart/tokenizer "$tmp/spm-tokenizer.json"
"$POSTTRAIN" export "$tmp/fx/quants.gguf" "$tmp/quants" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "import quants.gguf"; }
same_tensors() {  # same_tensors DIR EXPECTED.safetensors [CONFIG.json]: bit-identical tensors (and config keys)
  "$PT_PYTHON" - "$@" <<'PY' || fail "import of $1"
import json, sys
import numpy as np
from safetensors.numpy import load_file
d, exp = sys.argv[1:3]
a, b = load_file(f"{d}/model.safetensors"), load_file(exp)
assert set(a) == set(b), f"names differ: {sorted(set(a) ^ set(b))[:6]}"
bad = [k for k in b if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k].astype(a[k].dtype))]
assert not bad, f"tensors differ: {bad[:6]}"
if len(sys.argv) > 3:
    c, e = json.load(open(f"{d}/config.json")), json.load(open(sys.argv[3]))
    diff = {k: (c.get(k), v) for k, v in e.items() if v is not None and c.get(k) != v}
    assert not diff, f"config differs: {diff}"
print(f"{d.split('/')[-1]}: {len(b)} tensors identical to the reference")
PY
}
same_tensors "$tmp/quants" "$tmp/fx/expected.safetensors" "$tmp/fx/expected_config.json"

# Round trip through our own export (f32 exact, f16 as rounded), each architecture the import maps.
for m in llama_tied qwen2 qwen3; do
  mkdir -p "$tmp/hf-$m"
  cp tests/assets/models/"$m"/{config.json,model.safetensors} "$tmp/hf-$m/"
  cp examples/quickstart/tokenizer/* "$tmp/hf-$m/"
  for t in f32 f16; do
    "$POSTTRAIN" export "$tmp/hf-$m" "$tmp/$m-$t.gguf" --format gguf --type "$t" > /dev/null 2>&1 || fail "export $m $t"
    "$POSTTRAIN" export "$tmp/$m-$t.gguf" "$tmp/back-$m-$t" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "import $m $t"; }
    "$PT_PYTHON" - "$tmp/hf-$m/model.safetensors" "$tmp/exp-$m-$t.safetensors" "$t" <<'PY'
import sys, torch
from safetensors.torch import load_file, save_file
w = load_file(sys.argv[1])
w.pop("lm_head.weight", None) if "lm_head.weight" in w and torch.equal(w["lm_head.weight"], w["model.embed_tokens.weight"]) else None
half = sys.argv[3] == "f16"
save_file({k: (v.half().float() if half and v.dim() == 2 else v.float()).contiguous() for k, v in w.items()}, sys.argv[2])
PY
    same_tensors "$tmp/back-$m-$t" "$tmp/exp-$m-$t.safetensors"
  done
done

# Qwen3-MoE: the stacked experts come back as one tensor per expert, bit for bit (f32) or as rounded (f16).
"$PT_PYTHON" tests/reference/make_moe.py "$tmp/hf-moe" 1 0 2> /dev/null
for t in f32 f16; do
  "$POSTTRAIN" export "$tmp/hf-moe" "$tmp/moe-$t.gguf" --format gguf --type "$t" > /dev/null 2>&1 || fail "export moe $t"
  "$POSTTRAIN" export "$tmp/moe-$t.gguf" "$tmp/back-moe-$t" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "import moe $t"; }
  "$PT_PYTHON" - "$tmp/hf-moe/model.safetensors" "$tmp/exp-moe-$t.safetensors" "$t" <<'PY'
import sys
from safetensors.torch import load_file, save_file
w, half = load_file(sys.argv[1]), sys.argv[3] == "f16"
save_file({k: (v.half().float() if half and v.dim() == 2 else v.float()).contiguous() for k, v in w.items()}, sys.argv[2])
PY
  same_tensors "$tmp/back-moe-$t" "$tmp/exp-moe-$t.safetensors"
done
"$PT_PYTHON" - "$tmp/back-moe-f32/config.json" <<'PY' || fail "qwen3moe config"
import json, sys
c = json.load(open(sys.argv[1]))
want = {"architectures": ["Qwen3MoeForCausalLM"], "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
        "norm_topk_prob": True, "mlp_only_layers": []}
assert all(c.get(k) == v for k, v in want.items()), {k: c.get(k) for k in want}
PY

# Tokenizer ids against transformers' GGUF tokenizer.
zstd -dcq tests/assets/tokenizers/english-sentences.txt.zst > "$tmp/sentences.txt"
"$PT_PYTHON" tests/reference/tokenizer_texts.py "$tmp/sentences.txt" tests/assets/tokenizers/hard_suite.json > "$tmp/texts.jsonl"
for f in quants qwen2-pre-bos spm; do
  "$POSTTRAIN" tokenize --tokenizer "$tmp/fx/$f.gguf" --jsonl "$tmp/texts.jsonl" --ids-only > "$tmp/ours.jsonl" 2> "$tmp/log" || { cat "$tmp/log"; fail "tokenize $f"; }
  "$PT_PYTHON" tests/reference/gguf_tokenizer_check.py "$tmp/fx/$f.gguf" "$tmp/texts.jsonl" "$tmp/ours.jsonl" 2>&1 | grep "ids identical" || fail "tokenizer of $f.gguf"
done

# The quickstart from a GGUF file (model and tokenizer) logs the HF directory's losses.
cp -r examples/quickstart/model "$tmp/qs-hf" && cp examples/quickstart/tokenizer/* "$tmp/qs-hf/"
"$POSTTRAIN" export "$tmp/qs-hf" "$tmp/qs.gguf" --format gguf --type f32 > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "export quickstart"; }
run_qs() {  # run_qs NAME MODEL TOKENIZER
  "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name="$1" --set model.path="$2" \
    --set tokenizer.path="$3" --set trainer.max_steps=6 --set schedule.warmup_steps=2 --set trainer.eval.every=0 --set trainer.eval.at_start=false \
    --set trainer.eval.at_end=false --set logging.every=1 --set checkpoint.save_final=false > "$tmp/$1.log" 2>&1 \
    || { cat "$tmp/$1.log"; fail "quickstart $1"; }
}
run_qs from-hf "$PWD/examples/quickstart/model" "$PWD/examples/quickstart/tokenizer"
run_qs from-gguf "$tmp/qs.gguf" ""
a="$(col "$tmp/from-hf/metrics.jsonl" loss)"; b="$(col "$tmp/from-gguf/metrics.jsonl" loss)"
[ -n "$a" ] && [ "$a" = "$b" ] || fail "losses differ: HF dir [$a] vs GGUF file [$b]"
echo "quickstart from the GGUF file: losses identical to the HF directory's ($a)"
echo '{"prompt": [{"role": "user", "content": "Reverse the digits: 1234"}]}' > "$tmp/p.jsonl"
"$POSTTRAIN" generate --model "$tmp/qs.gguf" --input "$tmp/p.jsonl" --output "$tmp/gen.jsonl" --max-new-tokens 8 > "$tmp/log" 2>&1 \
  || { cat "$tmp/log"; fail "generate from a GGUF file"; }
[ "$(wc -l < "$tmp/gen.jsonl")" = 1 ] || fail "generate wrote no completion"

refused() {  # refused FILE MESSAGE [tokenize]
  local f="$tmp/fx/$1" msg="$2"
  if [ "${3:-}" = tokenize ]; then
    if "$POSTTRAIN" tokenize --tokenizer "$f" --text hi > "$tmp/out" 2>&1; then fail "tokenizer of $1 accepted"; fi
  elif "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=bad --set model.path="$f" \
      --set trainer.max_steps=1 --set schedule.warmup_steps=0 > "$tmp/out" 2>&1; then
    fail "$1 accepted"
  fi
  grep -q "$1" "$tmp/out" && grep -q "$msg" "$tmp/out" || { cat "$tmp/out"; fail "$1: expected '$msg' naming the file"; }
  echo "$1 refused: $(grep -o "error: .*" "$tmp/out" | head -1 | cut -c1-150)"
}
refused bad-magic.gguf "not a GGUF file"
refused bad-truncated-meta.gguf "truncated or corrupt GGUF: metadata 'tokenizer.ggml.tokens'"
refused bad-truncated-data.gguf "truncated GGUF: tensor 'blk.1.[a-z_]*.weight' ([0-9]* bytes at data offset"
refused bad-arch.gguf "general.architecture 'bloom' is not imported"
refused bad-iq2xxs.gguf "tensors of type IQ2_XXS are not read"
refused bad-rope-freqs.gguf "rope_freqs.weight does not follow Llama 3's RoPE scaling"
refused bad-tokenizer.gguf "tokenizer.ggml.model is 'bert'" tokenize
"$POSTTRAIN" export "$tmp/fx/bad-tokenizer.gguf" "$tmp/bert-weights" > /dev/null 2>&1 || fail "weights of bad-tokenizer.gguf not imported"
[ -z "$(ls "$tmp/cache/gguf" | grep '\.tmp-' || true)" ] || fail "a failed conversion left a staging directory"
echo "gguf import ok"
