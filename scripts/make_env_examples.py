#!/usr/bin/env python3
"""Fixtures of the environment examples (deterministic, seeded; standard library only).

examples/calculator/sft.jsonl — tool-call traces for the quickstart model: a user asks for an
  arithmetic result the model cannot work out itself ("Compute 23*47+5."), the assistant calls the
  calculator tool (Qwen/Hermes <tool_call> JSON), the tool answers, the assistant repeats the result.
examples/calculator/prompts.jsonl — held-apart problems of the same kind with their answers, for
  GRPO in the calculator environment (reward 1 for the right final number).
examples/calculator/word_problems.jsonl — word problems of the same arithmetic (the expression is for the
  model to write: "A shop packs 23 boxes of 47 pens and has 5 loose pens..."), for GRPO of a real model
  SFT'd on the plain traces (scripts/learn_calculator.sh).
examples/calculator/sft_words.jsonl — tool-call traces of the first two kinds of word problem (the real-model
  run's SFT; the other two kinds it meets first in GRPO).
examples/guess_number/sft.jsonl — games of guess-the-number (1-9) played by a player who guesses at
  random among the numbers still possible, for the quickstart model to learn the game's format.
examples/guess_number/prompts.jsonl — records for the guess_number environment (it opens the game itself;
  each record's secret is what the samples of its group play against).
examples/shop/sft.jsonl — traces of the recipe-declared `price` tool (examples/shop/shop.py): a user asks
  what an item costs in one phrasing, the assistant calls price with the item, the tool answers a price
  drawn at random (not the shop's: the model must learn to read the tool, not to remember prices), the
  assistant repeats it. Half of the items appear in traces.
examples/shop/prompts.jsonl — every item in four phrasings (three of them new to the model), with the
  shop's price as the answer, for GRPO in the tools environment (reward: numeric).
Run: python3 scripts/make_env_examples.py
"""
import json
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def problem(rng):
    a, b, c = rng.randint(11, 99), rng.randint(11, 99), rng.randint(1, 99)
    kind = rng.randrange(3)
    if kind == 0:
        return f"{a}*{b}+{c}", a * b + c
    if kind == 1:
        return f"{a}*{b}", a * b
    return f"{a}+{b}*{c}", a + b * c


WORDS = [
    ("A shop packs {a} boxes with {b} pens in each box and has {c} loose pens. How many pens does it have?",
     lambda a, b, c: a * b + c),
    ("A farm has {a} rows of {b} apple trees. How many apple trees are there?", lambda a, b, c: a * b),
    ("Tom has {a} marbles and buys {b} bags with {c} marbles in each bag. How many marbles does he have now?",
     lambda a, b, c: a + b * c),
    ("A hall has {a} rows of {b} seats, and {c} seats are taken. How many seats are free?",
     lambda a, b, c: a * b - c),
]


EXPRS = ["{a}*{b}+{c}", "{a}*{b}", "{a}+{b}*{c}", "{a}*{b}-{c}"]


def word_problem(rng, kinds=len(WORDS)):
    a, b, c = rng.randint(11, 99), rng.randint(11, 99), rng.randint(1, 99)
    k = rng.randrange(kinds)
    text, f = WORDS[k]
    return text.format(a=a, b=b, c=c), f(a, b, c), EXPRS[k].format(a=a, b=b, c=c)


def call(expr):
    return "<tool_call>\n" + json.dumps({"name": "calculator", "arguments": {"expression": expr}}) + "\n</tool_call>"


def calculator(rng):
    os.makedirs(os.path.join(ROOT, "calculator"), exist_ok=True)
    with open(os.path.join(ROOT, "calculator", "sft.jsonl"), "w") as f:
        for _ in range(3000):
            expr, value = problem(rng)
            msgs = [{"role": "user", "content": f"Compute {expr}."},
                    {"role": "assistant", "content": call(expr)},
                    {"role": "tool", "content": str(value)},
                    {"role": "assistant", "content": str(value)}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    with open(os.path.join(ROOT, "calculator", "prompts.jsonl"), "w") as f:
        for _ in range(600):
            expr, value = problem(rng)
            f.write(json.dumps({"prompt": [{"role": "user", "content": f"Compute {expr}."}], "answer": str(value)}) + "\n")
    with open(os.path.join(ROOT, "calculator", "word_problems.jsonl"), "w") as f:
        for _ in range(600):
            text, value, _ = word_problem(rng)
            f.write(json.dumps({"prompt": [{"role": "user", "content": text}], "answer": str(value)}) + "\n")
    # Traces of the first two kinds of word problem only (the other two are new to the model in GRPO).
    with open(os.path.join(ROOT, "calculator", "sft_words.jsonl"), "w") as f:
        for _ in range(400):
            text, value, expr = word_problem(rng, kinds=2)
            msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": call(expr)},
                    {"role": "tool", "content": str(value)}, {"role": "assistant", "content": str(value)}]
            f.write(json.dumps({"messages": msgs}) + "\n")


def guess_number(rng):
    os.makedirs(os.path.join(ROOT, "guess_number"), exist_ok=True)
    opening = ("I am thinking of a whole number from 1 to 9. Guess it: answer with one number. "
               "After each guess I say higher or lower.")
    with open(os.path.join(ROOT, "guess_number", "sft.jsonl"), "w") as f:
        for _ in range(2000):
            secret, lo, hi = rng.randint(1, 9), 1, 9
            msgs = [{"role": "user", "content": opening}]
            for _ in range(4):
                guess = rng.randint(lo, hi)
                msgs.append({"role": "assistant", "content": str(guess)})
                if guess == secret:
                    break
                if guess < secret:
                    lo = guess + 1
                    msgs.append({"role": "user", "content": "Higher."})
                else:
                    hi = guess - 1
                    msgs.append({"role": "user", "content": "Lower."})
            f.write(json.dumps({"messages": msgs}) + "\n")
    with open(os.path.join(ROOT, "guess_number", "prompts.jsonl"), "w") as f:
        for i in range(400):
            f.write(json.dumps({"prompt": "play", "secret": rng.randint(1, 9)}) + "\n")


SHOP_ASK = ["What does a {} cost?", "How much is one {}?", "I want to buy a {}. What is the price?",
            "Price of a {}, please."]


def shop(rng):
    import importlib.util
    spec = importlib.util.spec_from_file_location("shop", os.path.join(ROOT, "shop", "shop.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    traced = tool.ITEMS[::2]
    with open(os.path.join(ROOT, "shop", "sft.jsonl"), "w") as f:
        for _ in range(1500):
            item, price = rng.choice(traced), rng.randint(2, 99)
            call_text = "<tool_call>\n" + json.dumps({"name": "price", "arguments": {"item": item}}) + "\n</tool_call>"
            msgs = [{"role": "user", "content": SHOP_ASK[0].format(item)}, {"role": "assistant", "content": call_text},
                    {"role": "tool", "content": str(price)}, {"role": "assistant", "content": str(price)}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    rows = [{"prompt": [{"role": "user", "content": ask.format(item)}], "answer": str(tool.PRICES[item])}
            for item in tool.ITEMS for ask in SHOP_ASK]
    rng.shuffle(rows)
    with open(os.path.join(ROOT, "shop", "prompts.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    calculator(random.Random(11))
    guess_number(random.Random(12))
    shop(random.Random(13))
