"""A tiny random-init model with a short sliding window (8), the quickstart tokenizer beside it.

usage: make_sliding.py OUT_DIR [ARCH]
  mistral (default): every layer windowed
  qwen2, qwen3: use_sliding_window with max_window_layers 1 of 3 layers: layer 0 global, 1-2 windowed
"""
import os
import shutil
import sys

import torch
import transformers as tf

out = sys.argv[1]
arch = sys.argv[2] if len(sys.argv) > 2 else "mistral"
torch.manual_seed(5)
if arch in ("qwen2", "qwen3"):
    cls, conf = (tf.Qwen2ForCausalLM, tf.Qwen2Config) if arch == "qwen2" else (tf.Qwen3ForCausalLM, tf.Qwen3Config)
    cfg = conf(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
               num_key_value_heads=2, head_dim=16, max_position_embeddings=256, use_sliding_window=True, sliding_window=8,
               max_window_layers=1, tie_word_embeddings=False, eos_token_id=2, pad_token_id=0)
    m = cls(cfg).to(torch.float32)
    m.save_pretrained(out, safe_serialization=True)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
    for f in os.listdir(root):
        shutil.copy(os.path.join(root, f), out)
    sys.exit(0)
cfg = tf.MistralConfig(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, sliding_window=8, rope_theta=10000.0,
                       tie_word_embeddings=False, eos_token_id=2, pad_token_id=0)
m = tf.MistralForCausalLM(cfg).to(torch.float32)
m.save_pretrained(out, safe_serialization=True)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
for f in os.listdir(root):
    shutil.copy(os.path.join(root, f), out)
