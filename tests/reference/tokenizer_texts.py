"""Varied texts for tokenizer parity checks, one {"text": ...} JSON line each, on stdout.

usage: tokenizer_texts.py SENTENCES.txt HARD_SUITE.json [N_SENTENCES]
  the first N_SENTENCES (2500) lines of SENTENCES.txt, every string of HARD_SUITE.json (whitespace,
  scripts, emoji, combining marks), and 300 seeded mixes: arithmetic, chat markup with special
  tokens, code, numbers with separators and exponents.
"""
import json, random, sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
hard = json.load(open(sys.argv[2], encoding="utf-8"))
n = int(sys.argv[3]) if len(sys.argv) > 3 else 2500
rnd = random.Random(3)
texts = lines[:n] + hard
for i in range(300):
    a, b = rnd.randint(0, 10 ** rnd.randint(1, 7)), rnd.randint(0, 999)
    texts.append(rnd.choice([f"What is {a} + {b}? The answer is {a + b}.",
                             f"<|im_start|>user\n{a}*{b}=?<|im_end|>\n<|im_start|>assistant\n{a * b}<|im_end|>",
                             f"def f(x):\n    return x ** {b}  # {a}\n",
                             f"  {a:,}\t{b:.3e} ... {lines[i][:30]}",
                             f"{hard[i % len(hard)]} {a}{b}"]))
for t in texts:
    print(json.dumps({"text": t}, ensure_ascii=False))
