#!/usr/bin/env python3
"""Chat-template rendering references from transformers' apply_chat_template.

Writes, for the shared tokenizers, a slim tokenizer_config.json (special tokens, model_max_length,
chat_template) into tests/assets/tokenizers/<name>/, and tests/assets/chat/render_ref.json with the
rendered text of a conversation suite for every (template, conversation, add_generation_prompt).
Templates: the shared qwen3/llama3/gemma3 ones and tests/assets/chat/templates/*.jinja (rendered with
the qwen3 tokenizer's special tokens). Errors raised by a template are recorded as {"error": true}.
Run: $VENV/bin/python scripts/make_chat_fixtures.py [SHARED_DIR]
"""
import glob
import json
import os
import sys

from transformers import AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ASSETS = os.path.join(ROOT, "tests", "assets")

CONVERSATIONS = {
    "single": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"}],
    "system": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi!"},
               {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye."}],
    "multi": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
              {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
    "unicode": [{"role": "user", "content": "  naïve 日本語 😀\n\ttabs  "}, {"role": "assistant", "content": "ok ✓"}],
    "empty_assistant": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}],
    "think": [{"role": "user", "content": "Think first."},
              {"role": "assistant", "content": "<think>\nreasoning here\n</think>\n\nThe answer."},
              {"role": "user", "content": "Again?"},
              {"role": "assistant", "content": "<think>more</think>Final."}],
    "tools": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": "",
               "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                                  "arguments": {"city": "Paris", "unit": "c"}}}]},
              {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "tool", "content": "second"},
              {"role": "assistant", "content": "It is 21 C."}],
    "not_alternating": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    "list_content": [{"role": "system", "content": [{"type": "text", "text": "Sys text"}]},
                     {"role": "user", "content": [{"type": "text", "text": " hello "}, {"type": "image"}]},
                     {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}],
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "n": {"type": "number", "default": 1.5}},
                         "required": ["city"]}}}]
CONFIG_KEYS = ["bos_token", "eos_token", "pad_token", "unk_token", "model_max_length", "add_bos_token",
               "add_eos_token", "chat_template"]


def render(tok, conv, gen, template=None, **kw):
    try:
        return {"text": tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen,
                                                chat_template=template, **kw)}
    except Exception as e:  # template raise_exception / invalid input
        return {"error": True, "message": str(e)[:200]}


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
    refs = []
    toks = {}
    for name in ["qwen3", "llama3", "gemma3", "mistral"]:
        src = os.path.join(shared, "tokenizers", name)
        cfg = json.load(open(os.path.join(src, "tokenizer_config.json")))
        slim = {k: cfg[k] for k in CONFIG_KEYS if k in cfg}
        with open(os.path.join(ASSETS, "tokenizers", name, "tokenizer_config.json"), "w") as f:
            json.dump(slim, f, ensure_ascii=False, indent=1)
        toks[name] = AutoTokenizer.from_pretrained(src)
    cases = [(n, None) for n in ["qwen3", "llama3", "gemma3"]]
    cases += [("qwen3", p) for p in sorted(glob.glob(os.path.join(ASSETS, "chat", "templates", "*.jinja")))]
    for tok_name, path in cases:
        tok = toks[tok_name]
        template = open(path).read() if path else None
        label = os.path.basename(path)[:-6] if path else tok_name
        for conv_name, conv in CONVERSATIONS.items():
            for gen in (False, True):
                refs.append({"template": label, "tokenizer": tok_name, "conversation": conv_name,
                             "add_generation_prompt": gen, **render(tok, conv, gen, template)})
        if label == "qwen3":
            for conv_name in ["single", "tools", "think"]:
                refs.append({"template": label, "tokenizer": tok_name, "conversation": conv_name,
                             "add_generation_prompt": True, "tools": TOOLS,
                             **render(tok, CONVERSATIONS[conv_name], True, template, tools=TOOLS)})
                refs.append({"template": label, "tokenizer": tok_name, "conversation": conv_name,
                             "add_generation_prompt": True, "extra": {"enable_thinking": False},
                             **render(tok, CONVERSATIONS[conv_name], True, template, enable_thinking=False)})
    os.makedirs(os.path.join(ASSETS, "chat"), exist_ok=True)
    with open(os.path.join(ASSETS, "chat", "render_ref.json"), "w") as f:
        json.dump({"conversations": CONVERSATIONS, "cases": refs}, f, ensure_ascii=False, indent=0)
    print(f"{len(refs)} rendering cases, {sum('error' in r for r in refs)} expected errors")


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------
# Loss-mask references (tests/assets/chat/mask_ref.json).
#  - a template with {% generation %} markers: transformers' return_assistant_tokens_mask;
#  - other templates: the prefix-rendering method, computed here on HF's tokenizer with offsets.
def first_special_end(tok, text):
    """Byte offset of the end of the first special added token in `text`, or None."""
    special = {i for i, t in tok.added_tokens_decoder.items() if t.special}
    enc = tok._tokenizer.encode(text, add_special_tokens=False)
    for tid, (cb, ce) in zip(enc.ids, enc.offsets):
        if tid in special:
            return len(text[:ce].encode())
    return None


def strip_appended_header(tok, fb, b, e, before, m):
    """A turn that ends '<eot><header of the next assistant turn>' (templates that always print the
    assistant header after the last message) ends at <eot> when that header is the one before the turn."""
    content = m["content"].strip(" \n\t\r").encode()
    at = fb.rfind(content, 0, e)
    if not content or at < b:
        return e
    cend = at + len(content)
    tail = fb[cend:e].decode()
    end = first_special_end(tok, tail)
    if end is None:
        return e
    rest = fb[cend + end:e].decode().lstrip(" \n\t\r")
    if rest and before.rstrip(" \n\t\r").endswith(rest):
        return cend + end
    return e


def prefix_mask(tok, conv, template=None, roles=("assistant",)):
    r = lambda msgs, gen: tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen,
                                                  chat_template=template) if msgs else ""
    full = r(conv, False)
    spans = []
    for i, m in enumerate(conv):
        if m["role"] not in roles:
            continue
        before, after = r(conv[:i], m["role"] == "assistant"), r(conv[:i + 1], False)
        assert full.startswith(before)
        fb, b = full.encode(), len(before.encode())
        if full.startswith(after):
            e = len(after.encode())
        else:  # turn re-rendered once later turns exist: locate content + terminator (see lib/tokenizer/masks.h)
            content = m["content"].strip(" \n\t\r").encode()
            ab = after.encode()
            pos = ab.rfind(content)
            assert content and pos >= b
            term = ab[pos + len(content):].rstrip(b" \n\t\r")
            at = fb.find(content + term, b)
            if at < 0:  # an always-appended next header: keep the terminator up to its first special token
                at = fb.find(content, b)
                assert at >= 0
                j = 0
                while j < len(term) and at + len(content) + j < len(fb) and fb[at + len(content) + j] == term[j]:
                    j += 1
                cut = first_special_end(tok, term[:j].decode())
                assert cut is not None
                term = term[:cut]
            e = at + len(content) + len(term)
        while e > b and full.encode()[e - 1:e] in (b" ", b"\n", b"\t", b"\r"):
            e -= 1
        if m["role"] == "assistant":
            e = strip_appended_header(tok, fb, b, e, before, m)
        spans.append((b, e))
    enc = tok._tokenizer.encode(full, add_special_tokens=False)
    # HF offsets are in characters; convert to bytes to compare with our byte spans.
    char_to_byte = [0]
    for ch in full:
        char_to_byte.append(char_to_byte[-1] + len(ch.encode()))
    mask = []
    for (cb, ce) in enc.offsets:
        b, e = char_to_byte[cb], char_to_byte[ce]
        mask.append(int(any(b < se and e > sb for sb, se in spans)))
    return enc.ids, mask


def mask_refs():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
    out = []
    qwen = AutoTokenizer.from_pretrained(os.path.join(shared, "tokenizers", "qwen3"))
    marked = open(os.path.join(ASSETS, "chat", "templates", "generation_marked.jinja")).read()
    for name in ["single", "system", "multi", "unicode"]:
        res = qwen.apply_chat_template(CONVERSATIONS[name], tokenize=True, return_dict=True, chat_template=marked,
                                       return_assistant_tokens_mask=True)
        out.append({"tokenizer": "qwen3", "template": "generation_marked", "conversation": name,
                    "ids": list(res["input_ids"]), "mask": list(res["assistant_masks"]), "method": "transformers"})
    for tname in ["qwen3", "llama3", "gemma3"]:
        tok = AutoTokenizer.from_pretrained(os.path.join(shared, "tokenizers", tname))
        for name in ["single", "system", "multi", "unicode"]:
            try:
                ids, mask = prefix_mask(tok, CONVERSATIONS[name])
            except Exception:
                continue
            out.append({"tokenizer": tname, "template": tname, "conversation": name, "ids": ids, "mask": mask,
                        "method": "prefix"})
        ids, mask = prefix_mask(qwen, CONVERSATIONS["system"],
                                open(os.path.join(ASSETS, "chat", "templates", "chatml.jinja")).read())
        if tname == "qwen3":
            out.append({"tokenizer": "qwen3", "template": "chatml", "conversation": "system", "ids": ids,
                        "mask": mask, "method": "prefix"})
    with open(os.path.join(ASSETS, "chat", "mask_ref.json"), "w") as f:
        json.dump(out, f)
    print(f"{len(out)} mask references")


if __name__ == "__main__":
    mask_refs()
