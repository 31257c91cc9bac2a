#!/usr/bin/env bash
# Peak memory of LoRA DPO with the two in-memory reference modes, measured in one run on the same
# model, data and steps: the policy with its adapters switched off (no second copy) vs a frozen copy
# of the weights. A random-init ~100M-parameter Qwen2-shaped model (fp32, so a copy is ~0.4 GB) on
# the quickstart tokenizer and the DPO example's pairs.
#   scripts/bench_dpo_reference.sh [hidden=1024] [layers=8] [steps=3]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
hidden="${1:-1024}"; layers="${2:-8}"; steps="${3:-3}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" - "$tmp/model" "$hidden" "$layers" <<'PY'
import sys, torch, transformers as tf
out, h, L = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
cfg = tf.Qwen2Config(vocab_size=320, hidden_size=h, intermediate_size=int(h * 2.75) // 64 * 64, num_hidden_layers=L,
                     num_attention_heads=h // 64, num_key_value_heads=max(1, h // 256), max_position_embeddings=512,
                     tie_word_embeddings=True, eos_token_id=2, pad_token_id=0)
m = tf.Qwen2ForCausalLM(cfg)
m.save_pretrained(out, safe_serialization=True)
print(f"model: {sum(p.numel() for p in m.parameters()) / 1e6:.1f}M parameters, fp32")
PY
run() {  # NAME REFERENCE
  "$PT" run "$ROOT/examples/dpo/recipe.yaml" --set run.output_dir="$tmp" --set run.name="$1" --set model.path="$tmp/model" \
    --set tokenizer.path="$ROOT/examples/quickstart/tokenizer" --set algorithm.dpo.reference="$2" \
    --set 'model.lora={rank: 16, alpha: 32, target_modules: [q_proj, k_proj, v_proj, o_proj]}' \
    --set trainer.max_steps="$steps" --set schedule.warmup_steps=0 --set trainer.eval.at_start=false \
    --set trainer.eval.at_end=false --set checkpoint.save_final=false --set checkpoint.save_final_hf=false \
    --set logging.every=1 > "$tmp/$1.log" 2>&1 || { cat "$tmp/$1.log"; exit 1; }
  "$PY" -c 'import json,sys; print(max(json.loads(l)["peak_memory_gb"] for l in open(sys.argv[1]) if "peak_memory_gb" in l))' "$tmp/$1/metrics.jsonl"
}
a="$(run adapters adapters)"; b="$(run copy model)"
"$PY" -c "a, b = $a, $b; print(f'LoRA DPO peak RSS: adapters-off reference {a:.3f} GB, frozen copy {b:.3f} GB, ratio {a / b:.2f} (saves {b - a:.3f} GB)')"
