#!/usr/bin/env bash
# Compressed shards streamed through their chunk index (data.stream_chunk_kb), end to end:
#  - a .jsonl.zst of two frames and a .jsonl.gz of two members train, with chunks of 8 KiB so the
#    quickstart data spans ~85 chunks read in a shuffled chunk order;
#  - exact resume after SIGKILL inside step 6: per-step losses identical;
#  - a truncated shard is refused naming the file, before any training.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
q="$PWD/examples/quickstart"

head -n 2000 "$q/train.jsonl" > "$tmp/a.jsonl"; tail -n +2001 "$q/train.jsonl" > "$tmp/b.jsonl"
zstd -q "$tmp/a.jsonl" "$tmp/b.jsonl"; cat "$tmp/a.jsonl.zst" "$tmp/b.jsonl.zst" > "$tmp/train.jsonl.zst"
gzip -k "$tmp/a.jsonl" "$tmp/b.jsonl"; cat "$tmp/a.jsonl.gz" "$tmp/b.jsonl.gz" > "$tmp/train.jsonl.gz"
head -c $(( $(stat -c %s "$tmp/train.jsonl.zst") / 3 )) "$tmp/train.jsonl.zst" > "$tmp/cut.jsonl.zst"

recipe_for() {
  sed -e "s#path: model#path: $q/model#" -e "s#path: tokenizer#path: $q/tokenizer#" \
      -e "s#path: train.jsonl#path: $1#" "$q/recipe.yaml" > "$2"
}
for ext in zst gz; do
  recipe_for "$tmp/train.jsonl.$ext" "$tmp/recipe-$ext.yaml"
  resume_check "stream-$ext" "$tmp/recipe-$ext.yaml" loss,masked_tokens,data/addition/records --set run.output_dir="$tmp" --set data.stream_chunk_kb=8
done

recipe_for "$tmp/cut.jsonl.zst" "$tmp/recipe-cut.yaml"
if "$POSTTRAIN" run "$tmp/recipe-cut.yaml" "${short[@]}" --set run.output_dir="$tmp" --set run.name=cut > "$tmp/cut.log" 2>&1; then
  fail "a truncated shard was accepted"
fi
grep -q "cut.jsonl.zst: unexpected end of zstd data" "$tmp/cut.log" || { cat "$tmp/cut.log"; fail "truncated shard message"; }
[ ! -d "$tmp/cut/checkpoints" ] || fail "a checkpoint was written for the truncated shard"
echo "truncated shard refused: $(grep -o 'cut.jsonl.zst: unexpected end[^(]*' "$tmp/cut.log" | head -1)"
echo "streaming OK"
