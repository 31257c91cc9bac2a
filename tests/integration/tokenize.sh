#!/usr/bin/env bash
# `posttrain tokenize` on real tokenizers gives the reference ids; bad files are clear errors.
set -euo pipefail
: "${POSTTRAIN:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
zstd -q -d tests/assets/tokenizers/qwen3/tokenizer.json.zst -o "$tmp/tokenizer.json"
out="$("$POSTTRAIN" tokenize --tokenizer "$tmp" --text 'Hello world<|im_end|>' --ids-only)"
[ "$out" = '{"ids":[9707,1879,151645]}' ] || { echo "FAIL: got $out"; exit 1; }
"$POSTTRAIN" tokenize --tokenizer "$tmp/tokenizer.json" --text 'Hi' | grep -q '"offsets":\[\[0,2\]\]'
printf '{"text": "a b"}\n\n{"text": "c"}\n' > "$tmp/ok.jsonl"
[ "$("$POSTTRAIN" tokenize --tokenizer "$tmp" --jsonl "$tmp/ok.jsonl" | wc -l)" -eq 2 ]
printf '{"text": "a"}\n{"txt": "b"}\n' > "$tmp/bad.jsonl"
if "$POSTTRAIN" tokenize --tokenizer "$tmp" --jsonl "$tmp/bad.jsonl" 2>"$tmp/err"; then echo "FAIL: bad record accepted"; exit 1; fi
grep -q "bad.jsonl:2 (text): expected a string field 'text'" "$tmp/err"
echo '{"model": {"type": "WordPiece2"}}' > "$tmp/weird.json"
if "$POSTTRAIN" tokenize --tokenizer "$tmp/weird.json" --text x 2>"$tmp/err"; then echo "FAIL"; exit 1; fi
grep -q "model.type 'WordPiece2' is not supported" "$tmp/err"
echo "tokenize ok"
