"""transformers' scores from a reward model, for the `model` reward (lib/rl/reward_model.cpp).

Makes a tiny random Qwen2ForSequenceClassification (num_labels 1) with the quickstart tokenizer in
OUT's directory (rm/), and scores prompt + completion texts with it as transformers does: the text
tokenized with special tokens, the score head at the last token. A completion's end-of-turn token is
part of the text (the policy sampled it). Writes `scores` [n] (float64 of the fp32 logits).
usage: hf_reward_model.py OUT.safetensors
"""
import os
import sys

import torch
import transformers as tf
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TEXTS = [
    ("<|im_start|>user\nReverse the digits: 1234<|im_end|>\n<|im_start|>assistant\n", "4321<|im_end|>"),
    ("<|im_start|>user\nReverse the digits: 1234<|im_end|>\n<|im_start|>assistant\n", "4312<|im_end|>"),
    ("<|im_start|>user\nReverse the digits: 90817<|im_end|>\n<|im_start|>assistant\n", "71809<|im_end|>"),
    ("<|im_start|>user\nReverse the digits: 5<|im_end|>\n<|im_start|>assistant\n", ""),
    ("plain text prompt ", "and a completion without special tokens"),
]

torch.manual_seed(0)
out_dir = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "rm")
tok = tf.AutoTokenizer.from_pretrained(os.path.join(ROOT, "examples", "quickstart", "tokenizer"))
cfg = tf.Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, num_labels=1,
                     pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else 0, tie_word_embeddings=False)
model = tf.Qwen2ForSequenceClassification(cfg).eval()
with torch.no_grad():
    model.score.weight.normal_(0, 0.5)  # scores of a useful size
model.save_pretrained(out_dir, safe_serialization=True)
tok.save_pretrained(out_dir)
scores = []
with torch.no_grad():
    for prompt, completion in TEXTS:
        ids = tok(prompt + completion, return_tensors="pt")
        scores.append(model(**ids).logits[0, 0].item())
save_file({"scores": torch.tensor(scores, dtype=torch.float64)}, sys.argv[1])
print(f"wrote {len(scores)} scores; model in {out_dir}")
