#!/usr/bin/env python3
"""Quickstart fixtures: a digit-reversal chat task, a small byte-level BPE tokenizer with the
ChatML chat template (Qwen2/2.5's), and a tiny random-init Qwen2 model whose vocabulary matches it.

Writes examples/quickstart/{train.jsonl, tokenizer/, model/}. Deterministic (seeded).
Run with the project venv: $VENV/bin/python scripts/make_quickstart.py
"""
import json
import os
import random

import torch
import transformers as tf
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "quickstart")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's pre-tokenizer regex: every digit is its own pre-token, so operands never merge.
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def records():
    rng = random.Random(0)
    out, seen = [], set()
    while len(out) < 6000:
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        if s in seen:
            continue
        seen.add(s)
        out.append({"messages": [{"role": "user", "content": f"Reverse the digits: {s}"},
                                 {"role": "assistant", "content": s[::-1]}]})
    return out


def make_tokenizer(recs, out_dir):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    texts = [f"<|im_start|>user\n{r['messages'][0]['content']}<|im_end|>\n<|im_start|>assistant\n"
             f"{r['messages'][1]['content']}<|im_end|>\n" for r in recs]
    tok.train_from_iterator(texts + ["The quick brown fox jumps over the lazy dog."], trainer)
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": "<|im_end|>",
           "pad_token": "<|endoftext|>", "unk_token": None, "model_max_length": 256,
           "add_prefix_space": False, "chat_template": CHATML}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return tok


def main():
    recs = records()
    with open(os.path.join(OUT, "train.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    tok = make_tokenizer(recs, os.path.join(OUT, "tokenizer"))
    vocab = tok.get_vocab_size()
    for d in "0123456789":
        assert len(tok.encode(d).ids) == 1
    torch.manual_seed(0)
    cfg = tf.Qwen2Config(vocab_size=vocab, hidden_size=128, intermediate_size=384, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rope_theta=10000.0, tie_word_embeddings=True, rms_norm_eps=1e-6,
                         bos_token_id=None, eos_token_id=tok.token_to_id("<|im_end|>"),
                         pad_token_id=tok.token_to_id("<|endoftext|>"), initializer_range=0.02)
    model = tf.Qwen2ForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(os.path.join(OUT, "model"), safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    print(f"vocab {vocab}, {n} parameters, {len(recs)} records")


if __name__ == "__main__":
    main()
