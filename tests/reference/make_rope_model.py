"""A tiny random-init Llama / Qwen2 with RoPE scaling, for logit parity past the original context.

usage: make_rope_model.py OUT_DIR ARCH [TYPE]   (ARCH: llama | qwen2; TYPE: yarn (default) | dynamic | linear)
  yarn:    factor 4 over an original context of 16 (max_position_embeddings 64)
  dynamic: NTK factor 2, max_position_embeddings 16 (the context dynamic scaling starts beyond)
  linear:  positions divided by 2 (max_position_embeddings 64)
"""
import sys

import torch
import transformers as tf

out, arch = sys.argv[1], sys.argv[2]
kind = sys.argv[3] if len(sys.argv) > 3 else "yarn"
torch.manual_seed(6)
if kind == "yarn":
    rope, max_pos = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "rope_theta": 10000.0}, 64
elif kind == "linear":
    rope, max_pos = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}, 64
else:
    rope, max_pos = {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}, 16
common = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=max_pos, rope_parameters=rope, tie_word_embeddings=False)
cls, cfg = (tf.LlamaForCausalLM, tf.LlamaConfig) if arch == "llama" else (tf.Qwen2ForCausalLM, tf.Qwen2Config)
m = cls(cfg(**common)).to(torch.float32)
m.save_pretrained(out, safe_serialization=True)
