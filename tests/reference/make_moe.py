"""A tiny random-init Qwen3MoeForCausalLM, the quickstart tokenizer beside it.

usage: make_moe.py OUT_DIR [NORM_TOPK=1] [DENSE=1]
3 layers: layer 1 dense (mlp_only_layers; DENSE=0: every layer has experts, as llama.cpp's qwen3moe
needs), the others route each token to 2 of 4 experts; the router weights are random (transformers
starts them at 0: every token would tie).
"""
import os
import shutil
import sys

import torch
import transformers as tf

out = sys.argv[1]
norm = (sys.argv[2] if len(sys.argv) > 2 else "1") == "1"
dense = [1] if (sys.argv[3] if len(sys.argv) > 3 else "1") == "1" else []
torch.manual_seed(12)
cfg = tf.Qwen3MoeConfig(vocab_size=320, hidden_size=64, intermediate_size=96, moe_intermediate_size=32,
                        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                        num_experts=4, num_experts_per_tok=2, norm_topk_prob=norm, mlp_only_layers=dense,
                        max_position_embeddings=128, tie_word_embeddings=False, eos_token_id=2, pad_token_id=0)
m = tf.Qwen3MoeForCausalLM(cfg).to(torch.float32)
with torch.no_grad():
    for name, p in m.named_parameters():
        if name.endswith("mlp.gate.weight"):
            p.normal_(0, 0.5)
m.save_pretrained(out, safe_serialization=True)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
for f in os.listdir(root):
    shutil.copy(os.path.join(root, f), out)
