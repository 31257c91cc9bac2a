#!/usr/bin/env bash
# Encode throughput: ours vs Hugging Face `tokenizers` (Python, Rust core) on the same corpus and
# machine, single-threaded and batched over all cores; prints ratios (ours / HF; > 1 = we are faster).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
BENCH="${BUILD_DIR:-$ROOT/build}/bench/bench_tokenizer"
ASSETS="$ROOT/tests/assets/tokenizers"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
zstd -q -d "$ASSETS/english-sentences.txt.zst" -o "$tmp/corpus.txt"
for name in ${NAMES:-qwen3 llama3 gemma3 mistral}; do
  zstd -q -d "$ASSETS/$name/tokenizer.json.zst" -o "$tmp/$name.json"
  ours="$("$BENCH" "$tmp/$name.json" "$tmp/corpus.txt" | grep RESULT)"
  hf="$("$PY" - "$tmp/$name.json" "$tmp/corpus.txt" <<'PY'
import sys, time, os
os.environ.setdefault("RAYON_NUM_THREADS", str(os.cpu_count()))
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
for l in lines: t.encode(l, add_special_tokens=False)  # warm-up, as for ours
t0 = time.perf_counter()
for l in lines: t.encode(l, add_special_tokens=False)
single = time.perf_counter() - t0
t0 = time.perf_counter(); t.encode_batch(lines, add_special_tokens=False); batch = time.perf_counter() - t0
print(f"{single:.6f} {batch:.6f}")
PY
)"
  read -r hf_single hf_batch <<<"$hf"
  o_single="$(sed 's/.*single_s=\([^ ]*\).*/\1/' <<<"$ours")"; o_batch="$(sed 's/.*batch_s=\([^ ]*\).*/\1/' <<<"$ours")"
  python3 -c "print(f'$name: single-thread {float($hf_single)/float($o_single):.2f}x HF ({float($o_single):.2f}s vs {float($hf_single):.2f}s), batch {float($hf_batch)/float($o_batch):.2f}x HF ({float($o_batch):.2f}s vs {float($hf_batch):.2f}s)')"
done
