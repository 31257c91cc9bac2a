#!/usr/bin/env python3
"""Tiny random-init Hugging Face models + transformers reference logits, for model parity tests.

Writes tests/assets/models/<name>/ (config.json, model.safetensors, reference.safetensors).
reference.safetensors holds doc{i}_ids [L] and doc{i}_logits [L, vocab] (fp32, eager attention,
each document run on its own), so the C++ tests can check both unpacked and packed parity.
Run with the project venv: $VENV/bin/python scripts/make_tiny_models.py
"""
import os
import sys

import torch
from safetensors.torch import save_file
import transformers as tf

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "assets", "models")

COMMON = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6,
              vocab_size=389,  # odd on purpose: exercises vocab padding
              bos_token_id=1, eos_token_id=2, pad_token_id=0,
              initializer_range=0.1)  # logits of magnitude ~1, so parity numbers mean something

MODELS = {
    "llama": (tf.LlamaConfig, tf.LlamaForCausalLM, dict(
        rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=64))),
    "llama_tied": (tf.LlamaConfig, tf.LlamaForCausalLM, dict(tie_word_embeddings=True, rope_theta=10000.0)),
    "mistral": (tf.MistralConfig, tf.MistralForCausalLM, dict(sliding_window=None, rope_theta=1000000.0)),
    "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM, dict(rope_theta=1000000.0, tie_word_embeddings=False)),
    "qwen3": (tf.Qwen3Config, tf.Qwen3ForCausalLM, dict(head_dim=32, rope_theta=1000000.0,
                                                         tie_word_embeddings=True)),
}

DOC_LENGTHS = [7, 19, 1, 33]


def main():
    torch.manual_seed(0)
    for name, (cfg_cls, model_cls, extra) in MODELS.items():
        cfg = cfg_cls(**COMMON, **extra)
        cfg._attn_implementation = "eager"
        model = model_cls(cfg).eval().to(torch.float32)
        # Non-trivial norms and biases so parity tests see them.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.add_(torch.randn_like(p) * 0.1)
                if n.endswith(".bias"):
                    p.copy_(torch.randn_like(p) * 0.05)
        out = os.path.join(OUT, name)
        model.save_pretrained(out, safe_serialization=True)
        ref = {}
        g = torch.Generator().manual_seed(1)
        for i, length in enumerate(DOC_LENGTHS):
            ids = torch.randint(3, cfg.vocab_size, (1, length), generator=g)
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0]
            ref[f"doc{i}_ids"] = ids[0].to(torch.int64).contiguous()
            ref[f"doc{i}_logits"] = logits.to(torch.float32).contiguous()
        save_file(ref, os.path.join(out, "reference.safetensors"))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} params -> {out}")


if __name__ == "__main__":
    sys.exit(main())
