"""A tiny random-init *ForTokenClassification model (3 labels, random score weight and bias).

usage: make_token_cls.py OUT_DIR ARCH   (ARCH: llama | qwen2)
"""
import sys

import torch
import transformers as tf

out, arch = sys.argv[1], sys.argv[2]
torch.manual_seed(8)
common = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, num_labels=3, pad_token_id=0)
cls, cfg = ((tf.LlamaForTokenClassification, tf.LlamaConfig) if arch == "llama"
            else (tf.Qwen2ForTokenClassification, tf.Qwen2Config))
m = cls(cfg(**common)).to(torch.float32)
with torch.no_grad():
    m.score.bias.normal_(0, 0.5)  # transformers starts it at 0, which would hide a missing bias
m.save_pretrained(out, safe_serialization=True)
