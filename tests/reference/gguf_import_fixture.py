"""GGUF files for `posttrain`'s GGUF import tests, written with the gguf package (test time only).

usage: gguf_import_fixture.py OUT_DIR TOKENIZER_DIR [SPM_TOKENIZER_JSON]
  OUT_DIR/quants.gguf          a 2-layer Llama (hidden 256, 4 heads / 2 KV heads, untied output) whose
                               weights use every type the import reads: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
                               Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS (K-quant and IQ4
                               blocks are random bytes with sane fp16 scales); the byte-level BPE tokenizer
                               of TOKENIZER_DIR in llama.cpp's keys
  OUT_DIR/expected.safetensors every tensor under its HF name as gguf.quants.dequantize gives it, q/k
                               rows put back from llama.cpp's interleaved order
  OUT_DIR/expected_config.json the HF config the metadata implies
  OUT_DIR/qwen2-pre-bos.gguf   the same with tokenizer.ggml.pre 'qwen2' and add_bos_token true
  OUT_DIR/spm.gguf             the same model with SPM_TOKENIZER_JSON's SentencePiece vocabulary and scores
  OUT_DIR/bad-*.gguf           broken variants, one defect each (see BAD below)
"""
import json, os, sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from safetensors.numpy import save_file

out, tok_dir = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
H, HEADS, KV, FF, LAYERS = 256, 4, 2, 256, 2
HD = H // HEADS

tj = json.load(open(f"{tok_dir}/tokenizer.json"))
tc = json.load(open(f"{tok_dir}/tokenizer_config.json"))
vocab = {**tj["model"]["vocab"], **{a["content"]: a["id"] for a in tj["added_tokens"]}}
V = max(vocab.values()) + 1
tokens = [""] * V
for t, i in vocab.items():
    tokens[i] = t
special = {a["id"] for a in tj["added_tokens"] if a.get("special")}
types = [3 if i in special else 1 for i in range(V)]
merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
tid = lambda name: vocab[tc[name] if isinstance(tc[name], str) else tc[name]["content"]]

KQ = {Q.Q4_K: [(0, 2), (2, 4)], Q.Q5_K: [(0, 2), (2, 4)], Q.Q6_K: [(208, 210)],  # fp16 scale fields
      Q.Q2_K: [(80, 82), (82, 84)], Q.Q3_K: [(108, 110)], Q.IQ4_NL: [(0, 2)], Q.IQ4_XS: [(0, 2)]}


def raw_blocks(qtype, rows, cols):
    """Random K-quant blocks: random bytes, scales overwritten with small positive fp16 values."""
    bsize, tsize = gguf.GGML_QUANT_SIZES[qtype]
    n = rows * cols // bsize
    b = rng.integers(0, 256, size=(n, tsize), dtype=np.uint8)
    for lo, hi in KQ[qtype]:
        b[:, lo:hi] = rng.uniform(0.001, 0.02, size=(n, 1)).astype(np.float16).view(np.uint8)
    return b.reshape(rows, cols // bsize * tsize)


def encode(qtype, rows, cols):
    """(stored array, float32 values as gguf dequantizes them)."""
    if qtype in KQ:
        raw = raw_blocks(qtype, rows, cols)
    else:
        x = rng.normal(0, 0.05, size=(rows, cols)).astype(np.float32)
        raw = x if qtype == Q.F32 else gguf.quants.quantize(x, qtype)
    if qtype == Q.F32:
        return raw, raw
    return raw, gguf.quants.dequantize(raw, qtype).reshape(rows, cols).astype(np.float32)


def unpermute(w, heads):  # llama.cpp's interleaved rotary pairs back to HF's rotate-half order
    r, c = w.shape
    return w.reshape(heads, r // heads // 2, 2, c).swapaxes(1, 2).reshape(r, c)


plan = {
    "token_embd": (Q.Q8_0, V, H, "model.embed_tokens"),
    "output": (Q.Q6_K, V, H, "lm_head"),
    "output_norm": (Q.F32, 1, H, "model.norm"),
}
layer_types = [
    dict(attn_q=Q.Q4_K, attn_k=Q.Q5_K, attn_v=Q.Q6_K, attn_output=Q.Q4_0, ffn_gate=Q.Q4_1, ffn_up=Q.Q5_0, ffn_down=Q.Q5_1),
    dict(attn_q=Q.F16, attn_k=Q.BF16, attn_v=Q.IQ4_NL, attn_output=Q.Q8_0, ffn_gate=Q.Q2_K, ffn_up=Q.Q3_K, ffn_down=Q.IQ4_XS),
]
hf_of = dict(attn_q="self_attn.q_proj", attn_k="self_attn.k_proj", attn_v="self_attn.v_proj",
             attn_output="self_attn.o_proj", ffn_gate="mlp.gate_proj", ffn_up="mlp.up_proj", ffn_down="mlp.down_proj")
shape_of = dict(attn_q=(H, H), attn_k=(KV * HD, H), attn_v=(KV * HD, H), attn_output=(H, H), ffn_gate=(FF, H),
                ffn_up=(FF, H), ffn_down=(H, FF))
for i, lt in enumerate(layer_types):
    for k, qt in lt.items():
        plan[f"blk.{i}.{k}"] = (qt, *shape_of[k], f"model.layers.{i}.{hf_of[k]}")
    plan[f"blk.{i}.attn_norm"] = (Q.F32, 1, H, f"model.layers.{i}.input_layernorm")
    plan[f"blk.{i}.ffn_norm"] = (Q.F32, 1, H, f"model.layers.{i}.post_attention_layernorm")

tensors, expected = {}, {}
for name, (qt, rows, cols, hf) in plan.items():
    stored, values = encode(qt, rows, cols)
    if rows == 1:  # norms: 1-D, around 1
        stored = values = (1 + values.reshape(cols)).astype(np.float32)
    tensors[name + ".weight"] = (stored, qt)
    if ".attn_q" in name or ".attn_k" in name:
        values = unpermute(values, HEADS if ".attn_q" in name else KV)
    expected[hf + ".weight"] = np.ascontiguousarray(values)
save_file(expected, f"{out}/expected.safetensors")
config = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=H, intermediate_size=FF,
              num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV, head_dim=HD,
              rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=512, vocab_size=V,
              tie_word_embeddings=False, bos_token_id=tid("bos_token") if tc.get("bos_token") else None,
              eos_token_id=tid("eos_token"))
json.dump(config, open(f"{out}/expected_config.json", "w"), indent=1)


def write(path, arch="llama", tokenizer_model="gpt2", pre="gpt-2", add_bos=False, drop=(), extra_tensors=(), extra_kv=(),
          vocab=None):
    """vocab: (tokens, types, scores) of a SentencePiece vocabulary without merges, instead of TOKENIZER_DIR's."""
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(512); w.add_embedding_length(H); w.add_block_count(LAYERS); w.add_feed_forward_length(FF)
    w.add_head_count(HEADS); w.add_head_count_kv(KV); w.add_layer_norm_rms_eps(1e-5); w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(HD); w.add_vocab_size(V)
    w.add_tokenizer_model(tokenizer_model); w.add_tokenizer_pre(pre)
    if vocab:
        w.add_token_list(vocab[0]); w.add_token_types(vocab[1]); w.add_token_scores(vocab[2])
        w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)  # <unk> <s> </s>
    else:
        w.add_token_list(tokens); w.add_token_types(types); w.add_token_merges(merges)
        if tc.get("bos_token") or add_bos:  # a BOS to add: the config's, else token 0
            w.add_bos_token_id(tid("bos_token") if tc.get("bos_token") else 0)
        w.add_eos_token_id(tid("eos_token"))
    if add_bos is not None:
        w.add_add_bos_token(add_bos)
    if tc.get("chat_template"):
        w.add_chat_template(tc["chat_template"])
    for k, v in extra_kv:
        w.add_string(k, v)
    for name, (arr, qt) in [t for t in tensors.items() if t[0] not in drop] + list(extra_tensors):
        if qt in (Q.F32,):
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, arr, raw_dtype=qt)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


write(f"{out}/quants.gguf")
# The same model with Qwen2's split regex (one digit per token) and a BOS added to every text.
write(f"{out}/qwen2-pre-bos.gguf", pre="qwen2", add_bos=True)
# A SentencePiece BPE vocabulary (tokenizer.ggml.model 'llama', no merges: they follow from the scores) taken
# from the tokenizer.json given as a third argument, with no add_bos_token key (SentencePiece adds BOS).
if len(sys.argv) > 3:
    spm = json.load(open(sys.argv[3]))["model"]["vocab"]
    pieces = sorted(spm, key=spm.get)
    spm_types = [6 if len(p) == 6 and p.startswith("<0x") else 1 for p in pieces]
    spm_types[0], spm_types[1], spm_types[2] = 2, 3, 3
    # Scores as SentencePiece orders BPE pieces (best first), with two ties to exercise the tie rules.
    spm_scores = [-float(i) for i in range(len(pieces))]
    spm_scores[300] = spm_scores[301]
    write(f"{out}/spm.gguf", tokenizer_model="llama", pre="default", add_bos=None,
          vocab=(pieces, spm_types, spm_scores))
# BAD: one defect each (the import must name it)
write(f"{out}/bad-arch.gguf", arch="bloom")
write(f"{out}/bad-tokenizer.gguf", tokenizer_model="bert")
iq2 = raw_blocks(Q.Q4_K, H, H)[:, : H // 256 * 66]  # bytes of the right size for IQ2_XXS
write(f"{out}/bad-iq2xxs.gguf", drop=("blk.0.attn_output.weight",), extra_tensors=[("blk.0.attn_output.weight", (iq2, Q.IQ2_XXS))])
# Frequency divisors that no Llama 3 scaling gives (rising evenly from 1 to 3).
write(f"{out}/bad-rope-freqs.gguf", extra_tensors=[("rope_freqs.weight", (np.linspace(1, 3, HD // 2).astype(np.float32), Q.F32))])
data = open(f"{out}/quants.gguf", "rb").read()
open(f"{out}/bad-truncated-data.gguf", "wb").write(data[: len(data) * 2 // 3])
open(f"{out}/bad-truncated-meta.gguf", "wb").write(data[:2000])
open(f"{out}/bad-magic.gguf", "wb").write(b"GGUX" + data[4:])
print(f"gguf fixtures: {len(tensors)} tensors, vocabulary {V} -> {out}")
