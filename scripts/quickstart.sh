#!/usr/bin/env bash
# The README's first command: set up, build, then fine-tune a tiny random-init Qwen2-architecture
# model on a digit-reversal chat task on the CPU (well under a minute of training) and watch the
# held-out exact-match accuracy rise from 0% to ~100%.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only the binary: the test command builds the test suite and the benchmarks.
BUILD_TARGETS=posttrain "$ROOT/scripts/setup.sh"
PT="${BUILD_DIR:-$ROOT/build}/posttrain"
cd "$ROOT"
name="quickstart-$(date +%Y%m%d-%H%M%S)"
echo; echo "== posttrain run examples/quickstart/recipe.yaml (run directory runs/$name)"
mkdir -p runs
"$PT" run examples/quickstart/recipe.yaml --set run.name="$name" 2>&1 | tee "runs/$name.log"
echo; echo "== held-out exact-match accuracy of greedy answers, by step"
grep -o 'eval at step [0-9]*:.*' "runs/$name.log" | sed -E 's/eval at step ([0-9]+):.*eval\/accuracy ([0-9.e-]+).*/  step \1: \2/' 
echo; echo "== curves: $("$PT" plot "runs/$name")"
echo "== the fine-tuned model in Hugging Face format: runs/$name/model (transformers loads it as is)"
