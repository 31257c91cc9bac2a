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
"$PT_PYTHON" tests/reference/make_sliding.py "$tmp/m" 2> /dev/null
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/m" "$tmp/ref.safetensors" > /dev/null 2>&1
for a in eager sdpa; do
  "$POSTTRAIN" verify-model "$tmp/m" --reference "$tmp/ref.safetensors" --attention "$a" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/$a: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "sliding-window logits differ ($a)"
done
"$PT_PYTHON" tests/reference/hf_greedy.py "$tmp/m" "$tmp/greedy.json" 12 20 2> /dev/null
"$PT_PYTHON" -c 'import json,sys; [print(json.dumps({"prompt_ids": r["prompt"]})) for r in json.load(open(sys.argv[1]))]' "$tmp/greedy.json" > "$tmp/prompts.jsonl"
"$POSTTRAIN" generate --model "$tmp/m" --input "$tmp/prompts.jsonl" --output "$tmp/ours.jsonl" --max-new-tokens 20 --stop-id -1 --max-batch 5 --no-progress 2> /dev/null
"$PT_PYTHON" - "$tmp/greedy.json" "$tmp/ours.jsonl" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = [json.loads(l)["completions"][0]["tokens"] for l in open(sys.argv[2])]
same = sum(r["completion"] == o for r, o in zip(ref, ours))
print(f"sliding-window greedy generation vs transformers: {same}/{len(ref)} identical (prompts 3..40 tokens + 20 new, window 8)")
assert same == len(ref), [(r["completion"], o) for r, o in zip(ref, ours) if r["completion"] != o][:2]
PY

for a in qwen2 qwen3; do
  "$PT_PYTHON" tests/reference/make_sliding.py "$tmp/sw-$a" "$a" 2> /dev/null
  "$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/sw-$a" "$tmp/sw-$a.safetensors" > /dev/null 2>&1
  "$POSTTRAIN" verify-model "$tmp/sw-$a" --reference "$tmp/sw-$a.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/$a use_sliding_window: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "$a sliding-window logits differ"
  "$PT_PYTHON" tests/reference/hf_greedy.py "$tmp/sw-$a" "$tmp/sw-$a.json" 12 20 2> /dev/null
  "$PT_PYTHON" -c 'import json,sys; [print(json.dumps({"prompt_ids": r["prompt"]})) for r in json.load(open(sys.argv[1]))]' "$tmp/sw-$a.json" > "$tmp/sw-prompts.jsonl"
  "$POSTTRAIN" generate --model "$tmp/sw-$a" --input "$tmp/sw-prompts.jsonl" --output "$tmp/sw-ours.jsonl" --max-new-tokens 20 --stop-id -1 --max-batch 5 --no-progress 2> /dev/null
  "$PT_PYTHON" - "$tmp/sw-$a.json" "$tmp/sw-ours.jsonl" "$a" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = [json.loads(l)["completions"][0]["tokens"] for l in open(sys.argv[2])]
same = sum(r["completion"] == o for r, o in zip(ref, ours))
print(f"{sys.argv[3]} use_sliding_window greedy generation vs transformers: {same}/{len(ref)} identical")
assert same == len(ref)
PY
done
for a in llama qwen2; do
  "$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/yarn-$a" "$a" 2> /dev/null
  "$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/yarn-$a" "$tmp/yarn-$a.safetensors" > /dev/null 2>&1
  "$POSTTRAIN" verify-model "$tmp/yarn-$a" --reference "$tmp/yarn-$a.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|result" | sed "s/^/yarn $a: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "yarn logits differ ($a)"
done
for a in llama qwen2; do
  "$PT_PYTHON" tests/reference/make_rope_model.py "$tmp/dyn-$a" "$a" dynamic 2> /dev/null
  "$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/dyn-$a" "$tmp/dyn-$a.safetensors" > /dev/null 2>&1
  "$POSTTRAIN" verify-model "$tmp/dyn-$a" --reference "$tmp/dyn-$a.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/dynamic $a: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "dynamic RoPE logits differ ($a)"
done
"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/g3" 2> /dev/null
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/g3" "$tmp/g3.safetensors" > /dev/null 2>&1
for a in eager sdpa; do
  "$POSTTRAIN" verify-model "$tmp/g3" --reference "$tmp/g3.safetensors" --attention "$a" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/gemma3 $a: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "Gemma 3 logits differ ($a)"
done
"$PT_PYTHON" tests/reference/hf_greedy.py "$tmp/g3" "$tmp/g3-greedy.json" 12 20 2> /dev/null
"$PT_PYTHON" -c 'import json,sys; [print(json.dumps({"prompt_ids": r["prompt"]})) for r in json.load(open(sys.argv[1]))]' "$tmp/g3-greedy.json" > "$tmp/g3-prompts.jsonl"
"$POSTTRAIN" generate --model "$tmp/g3" --input "$tmp/g3-prompts.jsonl" --output "$tmp/g3-ours.jsonl" --max-new-tokens 20 --stop-id -1 --max-batch 5 --no-progress 2> /dev/null
"$PT_PYTHON" - "$tmp/g3-greedy.json" "$tmp/g3-ours.jsonl" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = [json.loads(l)["completions"][0]["tokens"] for l in open(sys.argv[2])]
same = sum(r["completion"] == o for r, o in zip(ref, ours))
print(f"gemma3 greedy generation vs transformers: {same}/{len(ref)} identical (prompts 3..40 tokens + 20 new, window 8)")
assert same == len(ref), [(r["completion"], o) for r, o in zip(ref, ours) if r["completion"] != o][:2]
PY
# Trained (SFT on the quickstart data, full fine-tuning, then LoRA) and exported: transformers loads
# the result with our logits.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=g3-sft --set model.path="$tmp/g3" \
  "${short[@]}" > "$tmp/g3-sft.log" 2>&1 || { cat "$tmp/g3-sft.log"; fail "Gemma 3 SFT"; }
"$PT_PYTHON" -c 'import json,sys; l=[json.loads(x)["loss"] for x in open(sys.argv[1]) if "\"loss\"" in x]; print(f"gemma3 SFT: loss {l[0]:.3f} -> {l[-1]:.3f} in {len(l)} steps"); assert l[-1] < l[0]' "$tmp/g3-sft/metrics.jsonl"
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/g3-sft/model" "$tmp/g3-sft.safetensors" > /dev/null 2>&1
"$POSTTRAIN" verify-model "$tmp/g3-sft/model" --reference "$tmp/g3-sft.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|result" | sed "s/^/gemma3 trained + exported: /"
grep -q "result .*PASS" "$tmp/v.txt" || fail "exported Gemma 3 logits differ"
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=g3-lora --set model.path="$tmp/g3" \
  --set 'model.lora={rank: 8, alpha: 16, merge_on_export: true}' --set optimizer.lr=3e-2 "${short[@]}" > "$tmp/g3-lora.log" 2>&1 ||
  { cat "$tmp/g3-lora.log"; fail "Gemma 3 LoRA"; }
# peft's logits with our adapter on the base model = our merged export's logits.
merged="$(ls -d "$tmp"/g3-lora/model/merged* 2> /dev/null | head -1)"
[ -n "$merged" ] || { ls -R "$tmp/g3-lora/model"; fail "no merged export"; }
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/g3" "$tmp/g3-lora.safetensors" --adapter "$tmp/g3-lora/model" > /dev/null 2>&1
"$POSTTRAIN" verify-model "$merged" --reference "$tmp/g3-lora.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|result" | sed "s/^/gemma3 LoRA: peft(base + our adapter) vs our merged export: /"
grep -q "result .*PASS" "$tmp/v.txt" || fail "Gemma 3 LoRA adapter logits differ in peft"
for n in 1 0; do
  "$PT_PYTHON" tests/reference/make_moe.py "$tmp/moe$n" "$n" 2> /dev/null
  "$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/moe$n" "$tmp/moe$n.safetensors" > /dev/null 2>&1
  for a in eager sdpa; do
    "$POSTTRAIN" verify-model "$tmp/moe$n" --reference "$tmp/moe$n.safetensors" --attention "$a" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/qwen3-moe norm_topk_prob=$n $a: /"
    grep -q "result .*PASS" "$tmp/v.txt" || fail "Qwen3-MoE logits differ (norm_topk_prob $n, $a)"
  done
done
"$PT_PYTHON" tests/reference/hf_greedy.py "$tmp/moe1" "$tmp/moe-greedy.json" 12 20 2> /dev/null
"$PT_PYTHON" -c 'import json,sys; [print(json.dumps({"prompt_ids": r["prompt"]})) for r in json.load(open(sys.argv[1]))]' "$tmp/moe-greedy.json" > "$tmp/moe-prompts.jsonl"
"$POSTTRAIN" generate --model "$tmp/moe1" --input "$tmp/moe-prompts.jsonl" --output "$tmp/moe-ours.jsonl" --max-new-tokens 20 --stop-id -1 --max-batch 5 --no-progress 2> /dev/null
"$PT_PYTHON" - "$tmp/moe-greedy.json" "$tmp/moe-ours.jsonl" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = [json.loads(l)["completions"][0]["tokens"] for l in open(sys.argv[2])]
same = sum(r["completion"] == o for r, o in zip(ref, ours))
print(f"qwen3-moe greedy generation vs transformers: {same}/{len(ref)} identical")
assert same == len(ref)
PY
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=moe-sft --set model.path="$tmp/moe1" \
  "${short[@]}" > "$tmp/moe-sft.log" 2>&1 || { cat "$tmp/moe-sft.log"; fail "Qwen3-MoE SFT"; }
"$PT_PYTHON" -c 'import json,sys; l=[json.loads(x)["loss"] for x in open(sys.argv[1]) if "\"loss\"" in x]; print(f"qwen3-moe SFT: loss {l[0]:.3f} -> {l[-1]:.3f} in {len(l)} steps"); assert l[-1] < l[0]' "$tmp/moe-sft/metrics.jsonl"
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/moe-sft/model" "$tmp/moe-sft.safetensors" > /dev/null 2>&1
"$POSTTRAIN" verify-model "$tmp/moe-sft/model" --reference "$tmp/moe-sft.safetensors" | tee "$tmp/v.txt" | grep -E "max abs|result" | sed "s/^/qwen3-moe trained + exported: /"
grep -q "result .*PASS" "$tmp/v.txt" || fail "exported Qwen3-MoE logits differ"
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=moe-lora --set model.path="$tmp/moe1" \
  --set 'model.lora={rank: 4, target_modules: [q_proj, v_proj]}' "${short[@]}" > "$tmp/moe-lora.log" 2>&1 || { cat "$tmp/moe-lora.log"; fail "Qwen3-MoE LoRA"; }
if "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=moe-lora2 --set model.path="$tmp/moe1" \
  --set 'model.lora={rank: 4, target_modules: [q_proj, gate_proj]}' "${short[@]}" > "$tmp/moe-lora2.log" 2>&1; then
  fail "LoRA on experts was accepted"
fi
grep -q "mixture-of-experts layer: adapters on experts" "$tmp/moe-lora2.log" || { cat "$tmp/moe-lora2.log"; fail "LoRA experts message"; }
echo "qwen3-moe: LoRA on attention trains; LoRA on experts refused"
