#!/usr/bin/env python3
"""Tokenizer parity fixtures from the Python `tokenizers` library (the reference).

Copies the four shared tokenizers and the English corpus into tests/assets/tokenizers/ (zstd),
and writes, per tokenizer:
  corpus_ref.bin.zst  per corpus line: uint32 token count, uint64 FNV-1a of the ids (little-endian
                      int32s), uint64 FNV-1a of decode(ids) (UTF-8)   -- add_special_tokens=True
  hard_ref.json       the hard suite: full ids, offsets and decode strings, with and without specials
Run: $VENV/bin/python scripts/make_tokenizer_fixtures.py [SHARED_DIR]
"""
import json
import os
import struct
import subprocess
import sys

from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "assets", "tokenizers")
NAMES = ["qwen3", "llama3", "gemma3", "mistral"]

HARD = [
    "", " ", "  ", "\n", "\n\n\n", "\t\t", " \n \n ", "a", "Hello, world!", "  leading and trailing  ",
    "naïve café résumé Ångström", "e\u0301 a\u0308 o\u0302 combining marks", "ﬁ ligature ² ½ ｆｕｌｌｗｉｄｔｈ",
    "日本語のテキストです。", "中文文本，标点符号！", "한국어 텍스트입니다", "ภาษาไทยไม่มีช่องว่าง",
    "हिन्दी पाठ", "العربية نص", "עברית", "Ελληνικά κείμενο", "Русский текст, ёлка",
    "😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️", "🇫🇷🇯🇵", "\u200b zero\u200dwidth \ufeff bom",
    "def f(x):\n    return x ** 2  # comment\n", "int main() { return 0; }\n\n",
    "    indented\n\tcode\r\nwindows line", "1234567890 3.14159 -42 1e-9 0x1F",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "<|im_start|>user\nhi<|im_end|>", "<s> </s> <bos> <eos> <|begin_of_text|> <start_of_turn>",
    "text<|endoftext|>more", "<|im_start|", "<unk>", "[INST] hello [/INST]", "It's I'm we'll they'd you've DON'T",
    "https://example.com/path?q=1&r=2#frag", "email@example.com", "$100.00 €50 ¥1000 £5",
    "snake_case camelCase PascalCase kebab-case", "\\n \\t literal backslashes", "\u00a0nbsp\u3000ideographic",
    "Mixed 日本 and English 123 😀 together.", "   ", "!!!???...", "\x7f\x01 control",
]


def fnv(data: bytes) -> int:
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def zstd(src, dst):
    subprocess.run(["zstd", "-q", "-f", "-19", "--long=27", src, "-o", dst], check=True)


def main():
    shared = next((a for a in sys.argv[1:] if not a.startswith("--")), os.path.join(ROOT, "..", "shared"))
    os.makedirs(OUT, exist_ok=True)
    corpus_src = os.path.join(shared, "corpora", "english-sentences.txt")
    zstd(corpus_src, os.path.join(OUT, "english-sentences.txt.zst"))
    lines = open(corpus_src, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    with open(os.path.join(OUT, "hard_suite.json"), "w", encoding="utf-8") as f:
        json.dump(HARD, f, ensure_ascii=False, indent=0)
    for name in NAMES:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(shared, "tokenizers", name, "tokenizer.json")
        zstd(src, os.path.join(d, "tokenizer.json.zst"))
        tok = Tokenizer.from_file(src)
        encs = tok.encode_batch(lines, add_special_tokens=True)
        decs = tok.decode_batch([e.ids for e in encs], skip_special_tokens=False)
        raw = bytearray()
        for e, s in zip(encs, decs):
            raw += struct.pack("<IQQ", len(e.ids), fnv(struct.pack(f"<{len(e.ids)}i", *e.ids)), fnv(s.encode("utf-8")))
        tmp = os.path.join(d, "corpus_ref.bin")
        open(tmp, "wb").write(raw)
        zstd(tmp, tmp + ".zst")
        os.remove(tmp)
        hard = []
        for text in HARD:
            item = {"text": text}
            for special in (True, False):
                e = tok.encode(text, add_special_tokens=special)
                key = "special" if special else "plain"
                item[key] = {"ids": e.ids, "offsets": [list(o) for o in e.offsets],
                             "decode": tok.decode(e.ids, skip_special_tokens=False),
                             "decode_skip": tok.decode(e.ids, skip_special_tokens=True)}
            hard.append(item)
        with open(os.path.join(d, "hard_ref.json"), "w", encoding="utf-8") as f:
            json.dump(hard, f, ensure_ascii=False)
        print(f"{name}: {sum(len(e.ids) for e in encs)} corpus tokens, {len(HARD)} hard cases")


def small_models(shared):
    """Tiny Unigram (Metaspace, NFKC) and WordPiece (NFD+Lowercase+StripAccents, Whitespace) tokenizers
    trained here on the corpus, with reference ids/decodes on 3,000 corpus lines + the hard suite."""
    from tokenizers import Tokenizer as T, decoders, models, normalizers, pre_tokenizers, trainers
    out = os.path.join(OUT, "small")
    os.makedirs(out, exist_ok=True)
    lines = open(os.path.join(shared, "corpora", "english-sentences.txt"), encoding="utf-8").read().split("\n")[:20000]
    u = T(models.Unigram())
    u.normalizer = normalizers.NFKC()
    u.pre_tokenizer = pre_tokenizers.Metaspace()
    u.decoder = decoders.Metaspace()
    u.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=600, unk_token="<unk>", special_tokens=["<unk>", "<s>"]))
    u.save(os.path.join(out, "unigram.json"))
    w = T(models.WordPiece(unk_token="[UNK]"))
    w.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    w.pre_tokenizer = pre_tokenizers.Whitespace()
    w.decoder = decoders.WordPiece()
    w.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=800, special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
    w.save(os.path.join(out, "wordpiece.json"))
    texts = lines[:3000] + HARD
    for name, tok in (("unigram", u), ("wordpiece", w)):
        encs = tok.encode_batch(texts, add_special_tokens=True)
        ref = [{"text": t, "ids": e.ids, "decode": tok.decode(e.ids, skip_special_tokens=False)} for t, e in zip(texts, encs)]
        with open(os.path.join(out, name + "_ref.json"), "w", encoding="utf-8") as f:
            json.dump(ref, f, ensure_ascii=False)
    print("small unigram/wordpiece fixtures written")


if __name__ == "__main__":
    if "--small-only" not in sys.argv:
        main()
    small_models(next((a for a in sys.argv[1:] if not a.startswith("--")), os.path.join(ROOT, "..", "shared")))
