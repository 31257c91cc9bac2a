#!/usr/bin/env python3
"""Chat-template rendering references from transformers' apply_chat_template.

Writes, for the shared tokenizers, a slim tokenizer_config.json (special tokens, model_max_length,
chat_template) into tests/assets/tokenizers/<name>/, and tests/assets/chat/render_ref.json with the
rendered text of a conversation suite for every (template, conversation, add_generation_prompt).
Templates: the shared qwen3/llama3/gemma3 ones and tests/assets/chat/templates/*.jinja, rendered with the
qwen3 tokenizer's special tokens, or with mistral's (a real bos_token, <s>) when the template prints
bos_token. Errors raised by a template are recorded as {"error": true, "message": ...}.
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
    except Exception as e:  # template raise_exception (TemplateError) / invalid input (TypeError, ...)
        return {"error": True, "exception": type(e).__name__, "message": str(e)[:200]}


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
    for p in sorted(glob.glob(os.path.join(ASSETS, "chat", "templates", "*.jinja"))):
        # qwen3 has no bos_token: a template that prints one would render "" or fail on an undefined.
        cases.append(("mistral" if "bos_token" in open(p).read() else "qwen3", p))
    for tok_name, path in cases:
        tok = toks[tok_name]
        template = open(path).read() if path else None
        label = os.path.basename(path)[:-6] if path else tok_name
        for conv_name, conv in CONVERSATIONS.items():
            for gen in (False, True):
                refs.append({"template": label, "tokenizer": tok_name, "conversation": conv_name,
                             "add_generation_prompt": gen, **({"file": os.path.basename(path)} if path else {}),
                             **render(tok, conv, gen, template)})
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
# Loss-mask references (tests/assets/chat/mask_ref.json), all from transformers'
# return_assistant_tokens_mask: each template's trained span is written by hand as {% generation %}
# markers in a copy of it (tests/assets/chat/templates/marked/NAME.jinja: an assistant turn's text and
# its end-of-turn token, never its header or the newline after it); the copy must render exactly the
# original's text, and the reference is recorded for the original template.
MASK_CONVERSATIONS = ["single", "system", "multi", "unicode"]


def marked_mask(tok, conv, original, marked):
    for gen in (False, True):
        a = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, chat_template=original)
        b = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, chat_template=marked)
        assert a == b, f"the marked copy renders differently:\n{a!r}\n{b!r}"
    res = tok.apply_chat_template(conv, tokenize=True, return_dict=True, chat_template=marked,
                                  return_assistant_tokens_mask=True)
    return list(res["input_ids"]), list(res["assistant_masks"])


def mask_refs():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
    templates = os.path.join(ASSETS, "chat", "templates")
    out = []
    toks = {n: AutoTokenizer.from_pretrained(os.path.join(shared, "tokenizers", n)) for n in ["qwen3", "llama3", "gemma3"]}
    cases = [("qwen3", "generation_marked", None, os.path.join(templates, "generation_marked.jinja"))]
    cases += [(n, n, toks[n].chat_template, os.path.join(templates, "marked", n + ".jinja")) for n in toks]
    cases.append(("qwen3", "chatml", open(os.path.join(templates, "chatml.jinja")).read(),
                  os.path.join(templates, "marked", "chatml.jinja")))
    for tname, label, original, marked_path in cases:
        marked = open(marked_path).read()
        for name in MASK_CONVERSATIONS:
            ids, mask = marked_mask(toks[tname], CONVERSATIONS[name], original or marked, marked)
            assert 0 < sum(mask) < len(mask), (label, name)
            out.append({"tokenizer": tname, "template": label, "conversation": name, "ids": ids, "mask": mask,
                        "method": "transformers" if original is None else "transformers, marked copy"})
    with open(os.path.join(ASSETS, "chat", "mask_ref.json"), "w") as f:
        json.dump(out, f)
    print(f"{len(out)} mask references")


if __name__ == "__main__":
    mask_refs()
