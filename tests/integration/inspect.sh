#!/usr/bin/env bash
# `posttrain inspect` shows exactly the trained spans of a dataset record.
set -euo pipefail
: "${POSTTRAIN:?}"
out="$("$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --jsonl examples/quickstart/train.jsonl --line 2 --no-color)"
echo "$out"
grep -q '^<|im_start|>assistant$' <<<"$out"
grep -q "^\[\[<think>\$" <<<"$out"                       # Qwen3 renders the final turn with an empty think block
grep -qE "^[0-9]+<\\|im_end\\|>\\]\\]\$" <<<"$out"     # ...then the answer and the end-of-turn token
grep -qE '^[0-9]+ tokens, [0-9]+ trained, [0-9]+ masked$' <<<"$out"
if "$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --jsonl examples/quickstart/train.jsonl --line 100000 --no-color 2>/tmp/pt_inspect_err; then
  echo "FAIL: missing line accepted"; exit 1; fi
grep -q "train.jsonl:100000: no such line" /tmp/pt_inspect_err
# --generation-prompt: the conversation as generation sees it, ending with the assistant header.
gen="$("$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --jsonl examples/quickstart/train.jsonl --line 2 --no-color --generation-prompt)"
grep -q "rendered with the generation prompt" <<<"$gen"
[ "$(grep -c '<|im_start|>assistant' <<<"$gen")" -eq 2 ] || { echo "FAIL: no generation prompt after the last turn"; exit 1; }
grep -qE '^[0-9]+ tokens, 0 trained' <<<"$gen"
echo "inspect ok"
