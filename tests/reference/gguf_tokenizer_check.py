"""Our tokenizer built from a GGUF file's metadata vs the one transformers builds from the same file.

usage: gguf_tokenizer_check.py FILE.gguf TEXTS.jsonl OURS.jsonl
  TEXTS.jsonl: {"text": ...} per line; OURS.jsonl: `posttrain tokenize --tokenizer FILE.gguf --jsonl
  TEXTS.jsonl --ids-only` ({"ids": [...]} per line). Every line's ids must be equal (special tokens as
  transformers adds them); prints the count, fails naming the first line that differs.
"""
import json, os, sys

import transformers as tf

path, texts_file, ours_file = sys.argv[1:4]
tok = tf.AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path))
texts = [json.loads(l)["text"] for l in open(texts_file, encoding="utf-8")]
ours = [json.loads(l)["ids"] for l in open(ours_file)]
assert texts and len(texts) == len(ours), f"{len(texts)} texts but {len(ours)} tokenized lines"
n_tokens = 0
for i, (t, o) in enumerate(zip(texts, ours)):
    ref = tok(t)["input_ids"]
    if ref != o:
        print(f"line {i + 1} differs: {t[:80]!r}\n  transformers {ref[:40]}\n  ours         {o[:40]}")
        sys.exit(1)
    n_tokens += len(ref)
print(f"tokenizer from {os.path.basename(path)}: {len(texts)} texts, {n_tokens} tokens, ids identical to transformers'")
