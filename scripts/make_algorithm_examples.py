#!/usr/bin/env python3
"""Fixtures of the DPO, distillation and GRPO examples (deterministic, seeded).

examples/dpo/train.jsonl — preference pairs on the quickstart's digit-reversal task: the chosen
  answer is the correct reversal, the rejected one a near miss of the kind a half-trained model
  makes (two digits swapped, a digit dropped or repeated, a digit changed, or the digits unreversed).
examples/reward_model/pairs.jsonl — 12,000 such pairs, the first 3,000 being the DPO example's.
examples/distill/student/ — a random-init Qwen2 student, about half the size of the quickstart model, on
  the quickstart tokenizer (the teacher is the quickstart model after SFT).
examples/events/sessions.jsonl — synthetic interaction-event sessions over 128 event ids: a session
  starts with its user type (ids 0-3); each next event follows the type's own transition
  permutation with probability 0.9, else is uniform over the 124 event ids (the loss floor is printed).
examples/grpo/prompts.jsonl — digit-reversal prompts with their reference answers, for GRPO with an
  exact-match reward.
Run with the project venv: $VENV/bin/python scripts/make_algorithm_examples.py
"""
import json
import os
import random

import torch
import transformers as tf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def near_miss(rng, s, right):
    for _ in range(100):
        kind = rng.randrange(5)
        w = list(right)
        i = rng.randrange(len(w))
        if kind == 0 and len(w) > 1:
            j = min(i + 1, len(w) - 1) if i + 1 < len(w) else i - 1
            w[i], w[j] = w[j], w[i]
        elif kind == 1 and len(w) > 1:
            del w[i]
        elif kind == 2:
            w.insert(i, w[i])
        elif kind == 3:
            w[i] = rng.choice([d for d in "0123456789" if d != w[i]])
        else:
            w = list(s)
        wrong = "".join(w)
        if wrong != right:
            return wrong
    raise RuntimeError(s)


def digit_strings(rng):
    """Distinct digit strings of 3 to 6 digits, drawn from `rng` as the quickstart's are."""
    seen = set()
    while True:
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        if s not in seen:
            seen.add(s)
            yield s


def preference_records(n, seed):
    rng = random.Random(seed)
    out = []
    for s in digit_strings(rng):
        if len(out) == n:
            break
        right = s[::-1]
        out.append({"prompt": [{"role": "user", "content": f"Reverse the digits: {s}"}],
                    "chosen": [{"role": "assistant", "content": right}],
                    "rejected": [{"role": "assistant", "content": near_miss(rng, s, right)}]})
    return out


def prompt_records(n, seed):
    strings = digit_strings(random.Random(seed))
    return [{"prompt": [{"role": "user", "content": f"Reverse the digits: {s}"}], "answer": s[::-1]}
            for s in (next(strings) for _ in range(n))]


def event_sessions(n, length, seed):
    import math
    rng = random.Random(seed)
    events = list(range(4, 128))
    perms = []
    for _ in range(4):
        p = events[:]
        rng.shuffle(p)
        perms.append(dict(zip(events, p)))
    out = []
    for _ in range(n):
        u = rng.randrange(4)
        e = rng.choice(events)
        ids = [u, e]
        while len(ids) < length:
            e = perms[u][e] if rng.random() < 0.9 else rng.choice(events)
            ids.append(e)
        out.append({"ids": ids, "user_type": u})
    p_hit = 0.9 + 0.1 / len(events)
    floor = -(p_hit * math.log(p_hit) + (len(events) - 1) * (0.1 / len(events)) * math.log(0.1 / len(events)))
    return out, floor


def main():
    os.makedirs(os.path.join(ROOT, "events"), exist_ok=True)
    sessions, floor = event_sessions(3000, 64, 31)
    with open(os.path.join(ROOT, "events", "sessions.jsonl"), "w") as f:
        for r in sessions:
            f.write(json.dumps(r) + "\n")
    print(f"events: loss floor of the next-event process {floor:.4f} nats (the first event of a session is uniform)")
    os.makedirs(os.path.join(ROOT, "grpo"), exist_ok=True)
    with open(os.path.join(ROOT, "grpo", "prompts.jsonl"), "w") as f:
        for r in prompt_records(2000, 23):
            f.write(json.dumps(r) + "\n")
    pairs = preference_records(12000, 11)
    with open(os.path.join(ROOT, "dpo", "train.jsonl"), "w") as f:
        for r in pairs[:3000]:
            f.write(json.dumps(r) + "\n")
    # The reward model's pairs: the DPO example's 3,000 first, then 9,000 more drawn the same way (a
    # Bradley-Terry model on 3,000 stops near 0.87 held-out pairwise accuracy: it is data-limited).
    with open(os.path.join(ROOT, "reward_model", "pairs.jsonl"), "w") as f:
        for r in pairs:
            f.write(json.dumps(r) + "\n")
    teacher = tf.AutoConfig.from_pretrained(os.path.join(ROOT, "quickstart", "model"))
    torch.manual_seed(1)
    cfg = tf.Qwen2Config(vocab_size=teacher.vocab_size, hidden_size=96, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         rope_theta=10000.0, tie_word_embeddings=True, rms_norm_eps=1e-6, bos_token_id=None,
                         eos_token_id=teacher.eos_token_id, pad_token_id=teacher.pad_token_id, initializer_range=0.02)
    model = tf.Qwen2ForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(os.path.join(ROOT, "distill", "student"), safe_serialization=True)
    print(f"student: {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    main()
