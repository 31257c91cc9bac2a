#!/usr/bin/env python3
"""Data of the real-model examples (examples/smollm2/): two-digit addition and subtraction asked as
"What is 47 + 38? Answer with the number only." Train and test use disjoint questions.

  scripts/make_smollm2_examples.py [OUT_DIR=examples/smollm2]
    sft-train.jsonl      chats: the question, the bare number as the assistant's answer
    prompts-train.jsonl  prompts with "answer" (GRPO's numeric / exact_match rewards read it)
    pairs-train.jsonl    preference pairs: chosen = the right number, rejected = a near miss (off by 1 or 10)
    test.jsonl           held-out prompts with "answer" (posttrain eval's task file points here)
"""
import json, os, random, sys

out = sys.argv[1] if len(sys.argv) > 1 else "examples/smollm2"
os.makedirs(out, exist_ok=True)
rng = random.Random(2026)
questions = [(a, op, b) for a in range(10, 100) for b in range(10, 100) for op in "+-"]
rng.shuffle(questions)
test, train = questions[:200], questions[200:]


def ask(a, op, b):
    return [{"role": "user", "content": f"What is {a} {op} {b}? Answer with the number only."}]


def answer(a, op, b):
    return str(a + b if op == "+" else a - b)


def write(name, rows):
    with open(os.path.join(out, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


write("sft-train.jsonl", [{"messages": ask(*q) + [{"role": "assistant", "content": answer(*q)}]} for q in train[:3000]])
write("prompts-train.jsonl", [{"prompt": ask(*q), "answer": answer(*q)} for q in train[3000:6000]])
pairs = []
for q in train[6000:9000]:
    right = int(answer(*q))
    wrong = right + rng.choice([-10, -1, 1, 10])
    pairs.append({"prompt": ask(*q), "chosen": [{"role": "assistant", "content": str(right)}],
                  "rejected": [{"role": "assistant", "content": str(wrong)}]})
write("pairs-train.jsonl", pairs)
write("test.jsonl", [{"prompt": ask(*q), "answer": answer(*q)} for q in test])
print(f"smollm2 examples -> {out}: 3000 chats, 3000 prompts, {len(pairs)} pairs, {len(test)} held-out questions")
