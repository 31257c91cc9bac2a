"""A tiny random-init Llama / Qwen2 with RoPE scaling (yarn), for logit parity past the original context.

usage: make_rope_model.py OUT_DIR ARCH   (ARCH: llama | qwen2)
"""
import sys

import torch
import transformers as tf

out, arch = sys.argv[1], sys.argv[2]
torch.manual_seed(6)
rope = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "rope_theta": 10000.0}
common = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rope_parameters=rope, tie_word_embeddings=False)
cls, cfg = (tf.LlamaForCausalLM, tf.LlamaConfig) if arch == "llama" else (tf.Qwen2ForCausalLM, tf.Qwen2Config)
m = cls(cfg(**common)).to(torch.float32)
m.save_pretrained(out, safe_serialization=True)
