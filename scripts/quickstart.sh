#!/usr/bin/env bash
# The README's first command: set up, build, then walk through what posttrain does today on a CPU.
# (The SFT training loop is the next issue to land; until then the quickstart ends in --dry-run.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
PT="${BUILD_DIR:-$ROOT/build}/posttrain"
cd "$ROOT"
echo; echo "== posttrain version"; "$PT" version
echo; echo "== the quickstart recipe, fully resolved (first lines)"; "$PT" print examples/quickstart/recipe.yaml | head -20
echo; echo "== what the run would build"; "$PT" run examples/quickstart/recipe.yaml --dry-run
echo; echo "== our Qwen3 decoder vs transformers on the tiny model (logit parity gate)"
"$PT" verify-model tests/assets/models/qwen3
echo; echo "== the real Qwen3 tokenizer, byte-for-byte with HF tokenizers"
"$PT" tokenize --tokenizer tests/assets/tokenizers/qwen3 --text "<|im_start|>user
What is 2 + 3?<|im_end|>"
echo; echo "== a recipe mistake, caught before anything runs"
"$PT" validate tests/assets/bad-recipes/unknown-key.yaml || true
