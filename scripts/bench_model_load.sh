#!/usr/bin/env bash
# Makes a ~440 MB bf16 Llama-style checkpoint in /tmp (not checked in) and measures peak host memory
# while our loader reads it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
DIR=/tmp/posttrain-bench-model
if [ ! -f "$DIR/config.json" ]; then
  "$PY" - "$DIR" <<'PY'
import sys, torch, transformers as tf
cfg = tf.LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=12, num_attention_heads=16,
                     num_key_value_heads=8, vocab_size=32000)
tf.LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(sys.argv[1])
PY
fi
"${BUILD_DIR:-$ROOT/build}/bench/bench_model_load" "$DIR" bfloat16
