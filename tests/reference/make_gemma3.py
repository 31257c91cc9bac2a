"""A tiny random-init Gemma3ForCausalLM (text) for logit and generation parity, the quickstart tokenizer beside it.

usage: make_gemma3.py OUT_DIR [llamacpp [TOKENIZER_DIR]]
  TOKENIZER_DIR: that tokenizer (e.g. Gemma 3's, 262,144 tokens) beside the model, sized to it (hidden 16)

4 layers alternating sliding (window 8) and global attention, query_pre_attn_scalar 24 (not
head_dim), linear RoPE scaling (factor 2) on the global layers and a different base on the windowed
ones, and every (1 + w) norm weight random (transformers initializes them at 0, which would hide a
missing "1 +").
"""
import os
import shutil
import sys

import torch
import transformers as tf

out = sys.argv[1]
torch.manual_seed(11)
if len(sys.argv) > 2 and sys.argv[2] == "llamacpp":
    # The shape llama.cpp's gemma3 runs: every 6th layer global, windowed RoPE base 10000,
    # query_pre_attn_scalar = head_dim (linear scaling on the global layers stays).
    layers, types, scalar = 6, ["sliding_attention"] * 5 + ["full_attention"], 16
else:
    layers, types, scalar = 4, ["sliding_attention", "full_attention", "sliding_attention", "full_attention"], 24
tok_dir = sys.argv[3] if len(sys.argv) > 3 else None
vocab, hidden = 320, 64
if tok_dir:
    import json
    vocab, hidden = len(json.load(open(os.path.join(tok_dir, "tokenizer.json")))["model"]["vocab"]), 16
cfg = tf.Gemma3TextConfig(
    vocab_size=vocab, hidden_size=hidden, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4,
    num_key_value_heads=2, head_dim=16, max_position_embeddings=128, sliding_window=8,
    layer_types=types, query_pre_attn_scalar=scalar,
    rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                     "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
    pad_token_id=0, bos_token_id=2, eos_token_id=1, tie_word_embeddings=True)
m = tf.Gemma3ForCausalLM(cfg).to(torch.float32)
with torch.no_grad():
    for name, p in m.named_parameters():
        if "norm" in name:
            p.normal_(0, 0.3)
m.save_pretrained(out, safe_serialization=True)
# The quickstart tokenizer (300 tokens) beside it, so `posttrain generate` can load the directory.
root = tok_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
for f in os.listdir(root):
    shutil.copy(os.path.join(root, f), out)
