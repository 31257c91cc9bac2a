"""Checks a GGUF file written by `posttrain export --format gguf` against the HF model it came from.

usage: gguf_check.py HF_DIR FILE.gguf [--logits-atol X | --logits-rel R] [--tensors]
  default: transformers' GGUF loader (which undoes llama.cpp's q/k row permutation) vs the HF model,
           logits on 40 seeded ids: max abs <= --logits-atol (prints it and the top-1 agreement);
           the tokenizer transformers builds from the file encodes a few texts like the HF tokenizer.
  --tensors: the gguf package reads every tensor back: names in llama.cpp's scheme, f32 values equal
           to the HF tensors (q/k rows permuted for llama; experts stacked per layer), q8_0 blocks equal to
           gguf.quants.quantize.
  --config-from-hf: the GGUF model loaded with the HF directory's config (for keys transformers' GGUF
           config map does not read, e.g. qwen3moe's expert_feed_forward_length).
"""
import argparse, os, sys

import numpy as np
import torch
import gguf
import transformers as tf
from safetensors.torch import load_file

ap = argparse.ArgumentParser()
ap.add_argument("hf_dir")
ap.add_argument("file")
ap.add_argument("--logits-atol", type=float, default=1e-5)
ap.add_argument("--logits-rel", type=float, help="bound as a fraction of the largest |logit| (quantized files)")
ap.add_argument("--tensors", action="store_true")
ap.add_argument("--config-from-hf", action="store_true",
                help="load with the HF model's config (transformers' GGUF config map lacks a key the file has)")
a = ap.parse_args()
name = os.path.basename(a.file)

if a.tensors:
    r = gguf.GGUFReader(a.file)
    field = lambda k: r.fields[k].parts[-1]
    arch = bytes(field("general.architecture")).decode()
    cfg = tf.AutoConfig.from_pretrained(a.hf_dir)
    hf = load_file(os.path.join(a.hf_dir, "model.safetensors"))
    got = {t.name: t for t in r.tensors}
    def perm(w, heads):
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    checked = 0
    for k, w in hf.items():
        if k == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        parts = k.split(".")
        g = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}.get(k)
        if g is None:
            i, rest = parts[2], ".".join(parts[3:])
            norms = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
                     "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight"}
            if arch == "gemma3":  # llama.cpp's gemma names: sandwich norms apart, ffn_norm = pre-feedforward
                norms.update({"post_attention_layernorm.weight": "post_attention_norm.weight",
                              "pre_feedforward_layernorm.weight": "ffn_norm.weight",
                              "post_feedforward_layernorm.weight": "post_ffw_norm.weight"})
            g = "blk.%s.%s" % (i, norms.get(rest)
                               or rest.replace("self_attn.q_proj", "attn_q").replace("self_attn.k_proj", "attn_k")
                               .replace("self_attn.v_proj", "attn_v").replace("self_attn.o_proj", "attn_output")
                               .replace("mlp.gate_proj", "ffn_gate").replace("mlp.up_proj", "ffn_up").replace("mlp.down_proj", "ffn_down"))
        x = w.float()
        if arch == "gemma3" and k.endswith("norm.weight"):
            x = x + 1  # convert_hf_to_gguf's norm_shift: llama.cpp scales by w, Gemma by 1 + w
        if ".mlp.experts." in k:  # llama.cpp stacks experts: blk.L.ffn_{gate,up,down}_exps [experts, rows, cols]
            e, proj = int(parts[5]), parts[6].split("_")[0]
            g = f"blk.{i}.ffn_{proj}_exps.weight"
            assert g in got, (k, g)
            t = got[g]
            if t.tensor_type == gguf.GGMLQuantizationType.F32:
                assert np.array_equal(np.asarray(t.data).reshape(-1, *x.shape)[e], x.numpy()), k
            elif t.tensor_type == gguf.GGMLQuantizationType.Q8_0:  # expert e's blocks: the e-th equal share of the bytes
                raw = np.asarray(t.data).reshape(-1).view(np.uint8)
                q = gguf.quants.quantize(x.numpy(), gguf.GGMLQuantizationType.Q8_0).tobytes()
                assert raw[e * len(q):(e + 1) * len(q)].tobytes() == q, k
            checked += 1
            continue
        g = g.replace("mlp.gate.weight", "ffn_gate_inp.weight")
        assert g in got, (k, g, sorted(got)[:5])
        if arch == "llama" and (".attn_q." in g or ".attn_k." in g):
            x = perm(x, cfg.num_attention_heads if ".attn_q." in g else cfg.num_key_value_heads)
        t = got[g]
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            assert np.array_equal(np.asarray(t.data).reshape(x.shape), x.numpy()), g
        elif t.tensor_type == gguf.GGMLQuantizationType.Q8_0:
            assert np.asarray(t.data).tobytes() == gguf.quants.quantize(x.numpy(), gguf.GGMLQuantizationType.Q8_0).tobytes(), g
        checked += 1
    print(f"{name}: {checked} tensors read back by the gguf package ({arch}), values as written")
    sys.exit(0)

ref = tf.AutoModelForCausalLM.from_pretrained(a.hf_dir, dtype=torch.float32).eval()
extra = {"config": tf.AutoConfig.from_pretrained(a.hf_dir)} if a.config_from_hf else {}
g = tf.AutoModelForCausalLM.from_pretrained(os.path.dirname(a.file), gguf_file=name, dtype=torch.float32, **extra).eval()
ids = torch.randint(3, min(300, ref.config.vocab_size), (1, 40), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    x, y = ref(ids).logits, g(ids).logits
d = (x - y).abs().max().item()
print(f"{name}: transformers' GGUF loader vs the HF model: logits max abs {d:.3e} (up to {x.abs().max().item():.1f}), "
      f"top-1 agreement {(x.argmax(-1) == y.argmax(-1)).float().mean().item():.3f}")
bound = a.logits_rel * x.abs().max().item() if a.logits_rel else a.logits_atol
assert d <= bound, (d, bound)
tok_g = tf.AutoTokenizer.from_pretrained(os.path.dirname(a.file), gguf_file=name)
tok = tf.AutoTokenizer.from_pretrained(a.hf_dir)
texts = ["Reverse the digits: 604876", "Hello, world! It's 12:30 - ok?", "<|im_start|>user\nhi<|im_end|>\n", "  spaces\tand\nlines  "]
bad = [t for t in texts if tok_g(t)["input_ids"] != tok(t)["input_ids"]]
assert not bad, bad
