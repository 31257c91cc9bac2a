"""Greedy completions from transformers' generate() for the engine parity test.

usage: hf_greedy.py MODEL_DIR OUT.json [N_PROMPTS=32] [MAX_NEW=12]
Prompts: seeded random ids of varied lengths (3..40); each prompt generated alone (no padding), fp32,
do_sample=False, no EOS stop, so every completion has MAX_NEW tokens.
"""
import json
import sys

import torch
import transformers as tf

model_dir, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 32
max_new = int(sys.argv[4]) if len(sys.argv) > 4 else 12
m = tf.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
g = torch.Generator().manual_seed(1234)
vocab = m.config.vocab_size
rows = []
for i in range(n):
    length = 3 + (i * 7) % 38
    prompt = torch.randint(3, vocab, (length,), generator=g).tolist()
    with torch.no_grad():
        ids = m.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, length, dtype=torch.long), do_sample=False,
                         max_new_tokens=max_new, min_new_tokens=max_new, eos_token_id=None, pad_token_id=0)
    rows.append({"prompt": prompt, "completion": ids[0, length:].tolist()})
json.dump(rows, open(out, "w"))
