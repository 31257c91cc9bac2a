"""A tiny random-init Mistral with a short sliding window (8), the quickstart tokenizer beside it.

usage: make_sliding.py OUT_DIR
"""
import os
import shutil
import sys

import torch
import transformers as tf

out = sys.argv[1]
torch.manual_seed(5)
cfg = tf.MistralConfig(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, sliding_window=8, rope_theta=10000.0,
                       tie_word_embeddings=False, eos_token_id=2, pad_token_id=0)
m = tf.MistralForCausalLM(cfg).to(torch.float32)
m.save_pretrained(out, safe_serialization=True)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
for f in os.listdir(root):
    shutil.copy(os.path.join(root, f), out)
