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
# --messages-json: a file holding the list, or an object with "messages", shows what --jsonl shows.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
sed -n 2p examples/quickstart/train.jsonl > "$tmp/object.json"
"${PT_PYTHON:-python3}" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["messages"]))' "$tmp/object.json" > "$tmp/list.json"
for f in object list; do
  got="$("$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --messages-json "$tmp/$f.json" --no-color)"
  [ "$got" = "$out" ] || { echo "FAIL: --messages-json ($f) differs from --jsonl:"; echo "$got"; exit 1; }
done
# Two assistant turns: both trained, each with its end-of-turn token; --last-turn-only keeps the last.
cat > "$tmp/two.json" <<'JSON'
[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
JSON
two="$("$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --messages-json "$tmp/two.json" --no-color)"
grep -q '^\[\[b<|im_end|>\]\]$' <<<"$two" || { echo "FAIL: first turn not trained as b<|im_end|>:"; echo "$two"; exit 1; }
[ "$(grep -c '\[\[' <<<"$two")" -eq 2 ] || { echo "FAIL: expected 2 trained spans"; echo "$two"; exit 1; }
last="$("$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --messages-json "$tmp/two.json" --no-color --last-turn-only)"
[ "$(grep -c '\[\[' <<<"$last")" -eq 1 ] && ! grep -q '\[\[b' <<<"$last" && grep -qE '^d<\|im_end\|>\]\]$' <<<"$last" \
  || { echo "FAIL: --last-turn-only:"; echo "$last"; exit 1; }
echo '[{"role": "user"' > "$tmp/bad.json"
if "$POSTTRAIN" inspect --tokenizer tests/assets/tokenizers/qwen3 --messages-json "$tmp/bad.json" --no-color 2> "$tmp/err"; then
  echo "FAIL: malformed --messages-json accepted"; exit 1; fi
grep -q "bad.json: invalid JSON" "$tmp/err" || { echo "FAIL: no file named:"; cat "$tmp/err"; exit 1; }
echo "inspect ok (--jsonl, --messages-json as a list and as an object, --last-turn-only, --generation-prompt, bad input)"
