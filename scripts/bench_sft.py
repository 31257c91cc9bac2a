"""The transformers side of scripts/bench_sft.sh (a test-time reference, not part of the product).

  make  DIR PRESET RECORDS ROW      random-init HF model of the preset's shape + its tokenizer in
                                    DIR/model, chat records with lognormal token lengths in DIR/data.jsonl
  train DIR MODE STEPS TOKENS ROW MICRO DEVICE LR
                                    MODE padded: the usual transformers SFT step (chat template, labels
                                    -100 outside the assistant answer, conversations batched MICRO at a
                                    time and padded to the longest, SDPA, AdamW; bf16 autocast when
                                    BENCH_PRECISION is bf16 (bench_sft.sh: the default on CUDA));
                                    MODE packed: the same records concatenated into rows of ROW tokens
                                    with no document mask (fast but attends across documents).
                                    Prints one JSON line of measurements.
  gemm  DEVICE                      the practical peak of the device: a large GEMM on the same threads
                                    (bf16 when BENCH_PRECISION is bf16).
"""
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import time

import torch
import transformers as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Model shapes. cpu: a ~100M-parameter Qwen3-style model with the real Qwen3 vocabulary (151,669
# entries, most of the parameters are the tied embedding); gpu presets: the published shapes.
PRESETS = {
    "cpu": dict(arch="qwen3", tokenizer="qwen3", vocab_size=151669, hidden_size=512, intermediate_size=1536,
                num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4, head_dim=64,
                tie_word_embeddings=True),
    "llama3.2-1b": dict(arch="llama", tokenizer="llama3", vocab_size=128256, hidden_size=2048,
                        intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                        num_key_value_heads=8, head_dim=64, tie_word_embeddings=True, rope_theta=500000.0),
    "qwen2.5-0.5b": dict(arch="qwen2", tokenizer="qwen3", vocab_size=151936, hidden_size=896,
                         intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0),
}


def sentences():
    path = os.path.join(ROOT, "tests/assets/tokenizers/english-sentences.txt.zst")
    text = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True, text=True).stdout
    return [s for s in text.splitlines() if s.strip()]


def make(out, preset, records, row):
    p = dict(PRESETS[preset])
    arch, tok_name = p.pop("arch"), p.pop("tokenizer")
    os.makedirs(out, exist_ok=True)
    mdir = os.path.join(out, "model")
    cls = {"qwen3": (tf.Qwen3Config, tf.Qwen3ForCausalLM), "llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
           "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM)}[arch]
    torch.manual_seed(0)
    cfg = cls[0](max_position_embeddings=max(row, 4096), **p)
    model = cls[1](cfg)
    model.save_pretrained(mdir)
    tdir = os.path.join(ROOT, "tests/assets/tokenizers", tok_name)
    # The repo keeps tokenizer.json zstd-compressed (posttrain reads it as is; transformers cannot).
    subprocess.run(["zstd", "-q", "-d", "-f", os.path.join(tdir, "tokenizer.json.zst"), "-o",
                    os.path.join(mdir, "tokenizer.json")], check=True)
    shutil.copy(os.path.join(tdir, "tokenizer_config.json"), mdir)
    tok = tf.AutoTokenizer.from_pretrained(mdir)
    sents = sentences()
    lens = [len(x) for x in tok(sents, add_special_tokens=False)["input_ids"]]
    # Token lengths lognormal with median 245 and mean 400 (sigma^2 = 2 ln(400/245)), clipped to the row.
    rng = random.Random(1)
    mu, sigma = math.log(245), math.sqrt(2 * math.log(400 / 245))
    got = []
    with open(os.path.join(out, "data.jsonl"), "w") as f:
        for _ in range(records):
            target = min(row - 48, max(24, int(round(rng.lognormvariate(mu, sigma)))))
            i = rng.randrange(len(sents))
            q, n = sents[i], lens[i] + 12  # template overhead of a user + assistant turn
            answer = []
            while n < target or not answer:
                i = rng.randrange(len(sents))
                answer.append(sents[i])
                n += lens[i]
            msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": " ".join(answer)}]
            ids = tok.apply_chat_template(msgs, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            if len(ids) > row:
                continue
            got.append(len(ids))
            f.write(json.dumps({"messages": msgs}) + "\n")
    got.sort()
    n_params = sum(t.numel() for t in model.parameters())
    print(json.dumps({"params": n_params, "records": len(got), "median_tokens": got[len(got) // 2],
                      "mean_tokens": sum(got) / len(got), "max_tokens": got[-1]}))


def encode_all(tok, path, limit_tokens):
    """Conversations in file order: input ids and labels (-100 outside the last assistant answer)."""
    out, total = [], 0
    for line in open(path):
        msgs = json.loads(line)["messages"]
        full = tok.apply_chat_template(msgs, tokenize=True)
        prompt = tok.apply_chat_template(msgs[:-1], tokenize=True, add_generation_prompt=True)
        if hasattr(full, "keys"):
            full, prompt = full["input_ids"], prompt["input_ids"]
        labels = [-100] * len(prompt) + full[len(prompt):]
        out.append((full, labels))
        total += len(full)
        if total >= limit_tokens:
            break
    return out


def padded_steps(convs, tokens_per_step, micro, pad_id):
    """Steps of about tokens_per_step real tokens; micro-batches of `micro` conversations padded to the longest."""
    i = 0
    while i < len(convs):
        step, n = [], 0
        while i < len(convs) and (not step or n + len(convs[i][0]) <= tokens_per_step):
            step.append(convs[i])
            n += len(convs[i][0])
            i += 1
        micros = []
        for b in range(0, len(step), micro):
            group = step[b:b + micro]
            width = max(len(x) for x, _ in group)
            ids = torch.full((len(group), width), pad_id, dtype=torch.long)
            lab = torch.full((len(group), width), -100, dtype=torch.long)
            att = torch.zeros((len(group), width), dtype=torch.long)
            for r, (x, y) in enumerate(group):
                ids[r, :len(x)] = torch.tensor(x)
                lab[r, :len(y)] = torch.tensor(y)
                att[r, :len(x)] = 1
            micros.append(dict(input_ids=ids, labels=lab, attention_mask=att))
        yield micros, n


def packed_steps(convs, tokens_per_step, row, micro_rows):
    """Rows of `row` tokens cut from the concatenated conversations; no document mask."""
    ids = [t for x, _ in convs for t in x]
    lab = [t for _, y in convs for t in y]
    rows = [(ids[k:k + row], lab[k:k + row]) for k in range(0, len(ids) - row + 1, row)]
    per_step = max(1, tokens_per_step // row)
    for s in range(0, len(rows) - per_step + 1, per_step):
        step = rows[s:s + per_step]
        micros = []
        for b in range(0, len(step), micro_rows):
            group = step[b:b + micro_rows]
            micros.append(dict(input_ids=torch.tensor([x for x, _ in group]),
                               labels=torch.tensor([y for _, y in group])))
        yield micros, per_step * row


def peak_memory_gb(device):
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def precision():
    return os.environ.get("BENCH_PRECISION", "fp32")


def train(d, mode, steps, tokens_per_step, row, micro, device, lr):
    torch.manual_seed(0)
    mdir = os.path.join(d, "model")
    tok = tf.AutoTokenizer.from_pretrained(mdir)
    model = tf.AutoModelForCausalLM.from_pretrained(mdir, attn_implementation="sdpa", dtype=torch.float32).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    convs = encode_all(tok, os.path.join(d, "data.jsonl"), tokens_per_step * (steps + 2) * 1.2)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    it = padded_steps(convs, tokens_per_step, micro, pad) if mode == "padded" else packed_steps(convs, tokens_per_step, row, micro)
    times, real, trained, losses = [], [], [], []
    for s in range(steps + 1):  # step 0 warms up and is not timed
        micros, _ = next(it)
        n_trained = sum(int((m["labels"][:, 1:] != -100).sum()) for m in micros)
        n_real = sum(int(m["attention_mask"].sum()) if "attention_mask" in m else m["input_ids"].numel() for m in micros)
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        total = 0.0
        for m in micros:
            m = {k: v.to(device) for k, v in m.items()}
            with torch.autocast(device, dtype=torch.bfloat16, enabled=precision() == "bf16"):
                out = model(**m, num_items_in_batch=n_trained)
            out.loss.backward()
            total += float(out.loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        if s > 0:
            times.append(dt)
            real.append(n_real)
            trained.append(n_trained)
        losses.append(total)
    sec = sum(times)
    print(json.dumps({"mode": mode, "steps": steps, "step_time_s": sec / len(times), "tokens_per_s": sum(real) / sec,
                      "trained_tokens_per_s": sum(trained) / sec, "peak_memory_gb": peak_memory_gb(device),
                      "final_loss": losses[-1], "first_loss": losses[0], "tokens_per_step": sum(real) / len(real),
                      "trained_per_step": sum(trained) / len(trained)}))


def gemm(device):
    n = 4096 if device == "cpu" else 8192
    dtype = torch.bfloat16 if precision() == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    reps = 5 if device == "cpu" else 50
    best = 0.0
    # The best of three timings: a shared machine only ever makes a GEMM slower.
    for _ in range(3):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n ** 3 / ((time.perf_counter() - t) / reps) / 1e12)
    print(json.dumps({"n": n, "dtype": str(dtype), "threads": torch.get_num_threads(), "tflops": best}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "train":
        train(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), int(args[5]), args[6], float(args[7]))
    elif cmd == "gemm":
        gemm(args[0])
    else:
        sys.exit(f"unknown command {cmd}")
