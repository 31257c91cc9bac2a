"""A tiny random-init *ForSequenceClassification model and transformers' scores on a few sequences.

usage: make_seq_cls.py OUT_DIR ARCH NUM_LABELS  (ARCH: qwen2 | llama)
Writes OUT_DIR/{config.json, model.safetensors, tokenizer files (the quickstart's)} and
OUT_DIR/reference.safetensors with doc<i>_ids and doc<i>_logits ([num_labels], fp32, eager).
"""
import os
import shutil
import sys

import torch
import transformers as tf
from safetensors.torch import save_file

out, arch, labels = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(3)
common = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, num_labels=labels, pad_token_id=0,
              tie_word_embeddings=False)
if arch == "qwen2":
    model = tf.Qwen2ForSequenceClassification(tf.Qwen2Config(**common))
else:
    model = tf.LlamaForSequenceClassification(tf.LlamaConfig(**common))
model = model.to(torch.float32).eval()
model.config._attn_implementation = "eager"
model.save_pretrained(out, safe_serialization=True)
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "quickstart", "tokenizer")
for f in os.listdir(root):
    shutil.copy(os.path.join(root, f), out)
g = torch.Generator().manual_seed(9)
ref = {}
for i, n in enumerate((5, 17, 40)):
    ids = torch.randint(3, 300, (1, n), generator=g)
    with torch.no_grad():
        ref[f"doc{i}_ids"] = ids[0].clone()
        ref[f"doc{i}_logits"] = model(input_ids=ids).logits[0].float().clone()
save_file(ref, os.path.join(out, "reference.safetensors"))
