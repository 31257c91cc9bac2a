#!/usr/bin/env bash
# Model variants gated by logit parity with transformers on tiny random models:
#  - sliding-window attention (Mistral, window 8) on documents longer than the window (eager and SDPA,
#    packed and unpacked), and cached generation past the window gives transformers' greedy tokens;
#  - Qwen2 / Qwen3 use_sliding_window (layers from max_window_layers on windowed): logits and greedy
#    generation past the window;
#  - yarn RoPE scaling (factor 4 over an original context of 16) on Llama and Qwen2, documents of 33;
#  - Gemma 3 (text): (1 + w) sandwich norms, scaled embeddings, GELU, query_pre_attn_scalar,
#    alternating sliding-window (8) and global layers with their own RoPE bases (linear scaling on the
#    global ones): logits (eager and SDPA, packed and unpacked) and cached greedy generation past the
#    window equal transformers';
#  - Qwen3-MoE (4 experts, top 2, renormalized or not, a dense layer among routed ones): logits, greedy
#    generation, an SFT run exported back to transformers, LoRA on attention (experts refused);
#  - dynamic NTK RoPE scaling (factor 2 beyond 16 positions) on Llama and Qwen2: documents of 7, 19, 1
#    and 33 tokens (scaled, reset, scaled again in transformers), packed and one by one.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh

# 8 SFT steps on the quickstart data (ARGS: extra recipe overrides), loss down. LABEL MODEL NAME [ARGS...]
sft() {
  local label="$1" model="$2" name="$3"; shift 3
  "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name="$name" --set model.path="$model" \
    "${short[@]}" "$@" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$label SFT"; }
  "$PT_PYTHON" -c 'import json,sys; l=[json.loads(x)["loss"] for x in open(sys.argv[1]) if "\"loss\"" in x]; print(f"{sys.argv[2]}: SFT loss {l[0]:.3f} -> {l[-1]:.3f} in {len(l)} steps"); assert l[-1] < l[0]' "$tmp/$name/metrics.jsonl" "$label"
}

"$PT_PYTHON" tests/reference/make_sliding.py "$tmp/m" 2> /dev/null
for a in eager sdpa; do parity "mistral window 8 $a" "$tmp/m" -- --attention "$a"; done
greedy "mistral window 8" "$tmp/m"
for a in qwen2 qwen3; do
  "$PT_PYTHON" tests/reference/make_sliding.py "$tmp/sw-$a" "$a" 2> /dev/null
  parity "$a use_sliding_window" "$tmp/sw-$a"
  greedy "$a use_sliding_window" "$tmp/sw-$a"
done
for a in llama qwen2; do
  "$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/yarn-$a" "$a" 2> /dev/null
  parity "yarn $a" "$tmp/yarn-$a"
  "$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/dyn-$a" "$a" dynamic 2> /dev/null
  parity "dynamic $a" "$tmp/dyn-$a"
done

"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/g3" 2> /dev/null
for a in eager sdpa; do parity "gemma3 $a" "$tmp/g3" -- --attention "$a"; done
greedy gemma3 "$tmp/g3"
# Trained and exported: transformers loads the result with our logits; with LoRA, peft's logits with
# our adapter on the base model equal our merged export's.
sft gemma3 "$tmp/g3" g3-sft
parity "gemma3 trained + exported" "$tmp/g3-sft/model"
sft "gemma3 LoRA" "$tmp/g3" g3-lora --set 'model.lora={rank: 8, alpha: 16, merge_on_export: true}' --set optimizer.lr=3e-2
ref_model="$tmp/g3" parity "gemma3 LoRA: peft(base + our adapter) vs our merged export" "$tmp/g3-lora/model/merged" --adapter "$tmp/g3-lora/model"

for n in 1 0; do
  "$PT_PYTHON" tests/reference/make_moe.py "$tmp/moe$n" "$n" 2> /dev/null
  for a in eager sdpa; do parity "qwen3-moe norm_topk_prob=$n $a" "$tmp/moe$n" -- --attention "$a"; done
done
greedy qwen3-moe "$tmp/moe1"
sft qwen3-moe "$tmp/moe1" moe-sft
parity "qwen3-moe trained + exported" "$tmp/moe-sft/model"
sft "qwen3-moe LoRA on attention" "$tmp/moe1" moe-lora --set 'model.lora={rank: 4, target_modules: [q_proj, v_proj]}'
if "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=moe-lora2 --set model.path="$tmp/moe1" \
  --set 'model.lora={rank: 4, target_modules: [q_proj, gate_proj]}' "${short[@]}" > "$tmp/moe-lora2.log" 2>&1; then
  fail "LoRA on experts was accepted"
fi
grep -q "mixture-of-experts layer: adapters on experts" "$tmp/moe-lora2.log" || { cat "$tmp/moe-lora2.log"; fail "LoRA experts message"; }
echo "qwen3-moe: LoRA on experts refused"
