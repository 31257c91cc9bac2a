#!/usr/bin/env python3
"""Reference logits from transformers (optionally with a PEFT adapter) for `posttrain verify-model`.

  hf_reference_logits.py MODEL_DIR|FILE.gguf OUT.safetensors [--adapter DIR] [--resize N] [--inputs IN.safetensors] [--seed N]

Writes doc{i}_ids [L] int64 and doc{i}_logits [L, vocab] fp32 ([1, num_labels] for a
*ForSequenceClassification model: its score at the last token; [L, num_labels] for a
*ForTokenClassification one), each document run on its own with
eager attention in fp32. Without --inputs, documents are random ids (lengths 7, 19, 1, 33) from --seed.
Also doc{i}_logits64: the same model run in float64, from which verify-model measures the fp32 noise
floor of this checkpoint (transformers' own fp32 error) and sets its tolerance (--no-fp64: omit).
A directory with PPO's value head on the policy (value_head.safetensors) also gets doc{i}_values [L].
"""
import argparse
import os
import sys

import torch
from safetensors.torch import load_file, save_file
import transformers as tf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--adapter")
    ap.add_argument("--inputs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resize", type=int, help="resize the base vocabulary first (new tokens in the adapter)")
    ap.add_argument("--no-fp64", action="store_true", help="do not write the float64 logits")
    a = ap.parse_args()
    # A GGUF file: transformers' own GGUF loader (dequantized to fp32) reads it.
    where = {}
    if a.model.endswith(".gguf"):
        where = {"gguf_file": os.path.basename(a.model)}
        a.model = os.path.dirname(os.path.abspath(a.model))
    arch = (tf.AutoConfig.from_pretrained(a.model, **where).architectures or ["CausalLM"])[0]
    # Classifiers (reward models) are gated on their score head: logits [1, num_labels] per document;
    # token classifiers on theirs at every token: [L, num_labels].
    auto = (tf.AutoModelForSequenceClassification if arch.endswith("ForSequenceClassification")
            else tf.AutoModelForTokenClassification if arch.endswith("ForTokenClassification") else tf.AutoModelForCausalLM)
    model = auto.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager", **where)
    if a.resize:
        model.resize_token_embeddings(a.resize, mean_resizing=False)
    if a.adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, a.adapter)
    model.eval()
    if a.inputs:
        src = load_file(a.inputs)
        docs = [src[f"doc{i}_ids"] for i in range(len([k for k in src if k.endswith("_ids")]))]
    else:
        g = torch.Generator().manual_seed(a.seed)
        vocab = model.config.vocab_size
        docs = [torch.randint(3, vocab, (n,), generator=g) for n in (7, 19, 1, 33)]
    out = {}

    def run(m):
        for i, ids in enumerate(docs):
            with torch.no_grad():
                logits = m(input_ids=ids.view(1, -1)).logits
                yield i, ids, logits if arch.endswith("ForSequenceClassification") else logits[0]

    for i, ids, logits in run(model):
        out[f"doc{i}_ids"] = ids.to(torch.int64).contiguous()
        out[f"doc{i}_logits"] = logits.float().contiguous()
    # PPO's value head on the policy (value_head.safetensors, TRL's v_head.summary names): its values
    # over transformers' final hidden states (after the final norm), doc{i}_values [L].
    head = os.path.join(a.model, "value_head.safetensors")
    if os.path.exists(head) and not where:
        v = load_file(head)
        w, b = v["v_head.summary.weight"].float(), v["v_head.summary.bias"].float()
        for i, ids in enumerate(docs):
            with torch.no_grad():
                h = model.base_model(input_ids=ids.view(1, -1)).last_hidden_state[0]
            out[f"doc{i}_values"] = (h @ w.T + b)[:, 0].contiguous()
    if not a.no_fp64:
        try:
            for i, _, logits in run(model.to(torch.float64)):
                out[f"doc{i}_logits64"] = logits.contiguous()
        except RuntimeError as e:  # kernels without float64 (grouped-GEMM experts): no noise floor
            print(f"hf_reference_logits: no float64 logits ({e}); verify-model falls back to its fixed tolerance",
                  file=sys.stderr)
            out = {k: v for k, v in out.items() if not k.endswith("_logits64")}
    save_file(out, a.out)


if __name__ == "__main__":
    main()
