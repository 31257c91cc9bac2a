#!/usr/bin/env bash
# print / diff / --set / list / version through the binary.
set -euo pipefail
: "${POSTTRAIN:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
R=configs/sft/qwen3-0.6b-full.yaml

"$POSTTRAIN" version | grep -q '^torch     2\.'
"$POSTTRAIN" print "$R" > "$tmp/a.yaml"
grep -q '^  lr: 1e-05' "$tmp/a.yaml"
grep -q 'vocab_pad_multiple: 64' "$tmp/a.yaml"

# --set is applied and type-checked.
"$POSTTRAIN" print "$R" --set optimizer.lr=3e-4 | grep -q '^  lr: 0.0003'
if "$POSTTRAIN" print "$R" --set optimizer.lr=abc 2>"$tmp/err"; then echo "FAIL: bad --set accepted"; exit 1; fi
grep -q "expected a finite number for 'optimizer.lr'" "$tmp/err"

# The hash is stable and content-based.
h1="$("$POSTTRAIN" print --hash "$R")"; h2="$("$POSTTRAIN" print --hash "$R")"
[ "$h1" = "$h2" ]
[ "$h1" != "$("$POSTTRAIN" print --hash "$R" --set run.seed=1)" ]

# diff: exit 0 when equal, 1 with a grouped report when different.
"$POSTTRAIN" diff "$R" "$R" | grep -q identical
set +e
"$POSTTRAIN" diff "$R" configs/sft/llama3.2-1b-lora.yaml > "$tmp/diff.txt"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: diff exit code $rc"; exit 1; }
grep -q '^run:' "$tmp/diff.txt"
grep -q '~ name: qwen3-0.6b-sft -> llama3.2-1b-lora' "$tmp/diff.txt"
grep -q '~ lr: 1e-05 -> 0.0002' "$tmp/diff.txt"
grep -q 'lora.rank: 16' "$tmp/diff.txt"

# A directory holding a resolved recipe.yaml (run or checkpoint dir) diffs like a file.
mkdir -p "$tmp/run"; "$POSTTRAIN" print "$R" > "$tmp/run/recipe.yaml"
"$POSTTRAIN" diff "$tmp/run" "$R" | grep -q identical

"$POSTTRAIN" list | grep -q 'architecture:'
if "$POSTTRAIN" list architectur 2>"$tmp/err"; then echo "FAIL: bad kind accepted"; exit 1; fi
grep -q "did you mean 'architecture'" "$tmp/err"
echo "cli ok"

# Parallel settings this run cannot honour are refused, never run as something else.
for kv in "parallel.tensor_parallel=2|needs an MPI launch with a multiple of 2 ranks" "parallel.backend=nccl|nccl runs on CUDA ranks" \
          "parallel.data_parallel=2|the run has 1 rank"; do
  if out="$("$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set parallel.device=cpu \
            --set "${kv%%|*}" 2>&1)"; then
    echo "FAIL: ${kv%%|*} was accepted"; exit 1
  fi
  echo "$out" | grep -q "${kv#*|}" || { echo "FAIL: ${kv%%|*}: $out"; exit 1; }
done
echo "unsupported parallel settings refused"
"$POSTTRAIN" list algorithm | grep -q "dpo" && "$POSTTRAIN" list algorithm | grep -q "distill"

# The quickstart builds only the binary (the test command builds the rest), and its recipe says what
# its data is.
grep -q 'BUILD_TARGETS=posttrain' scripts/quickstart.sh
head -3 examples/quickstart/recipe.yaml | grep -q 'digit-reversal'
! head -3 examples/quickstart/recipe.yaml | grep -qi 'addition'
