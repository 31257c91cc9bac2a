#!/usr/bin/env bash
# `posttrain verify-model` passes on every checked-in tiny model and fails (exit 1) on a tampered
# reference; bad inputs are clear errors.
set -euo pipefail
: "${POSTTRAIN:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for m in llama llama_tied mistral qwen2 qwen3; do
  "$POSTTRAIN" verify-model "tests/assets/models/$m" | tee "$tmp/out.txt" | grep -E "architecture|max abs|result"
  grep -q "result .*PASS" "$tmp/out.txt"
  "$POSTTRAIN" verify-model "tests/assets/models/$m" --dtype bfloat16 | grep -q "PASS"
done
# A reference from another model must fail the gate.
set +e
"$POSTTRAIN" verify-model tests/assets/models/qwen2 --reference tests/assets/models/qwen3/reference.safetensors > "$tmp/out.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: mismatched reference gave exit $rc"; exit 1; }
grep -q "result .*FAIL" "$tmp/out.txt"
if "$POSTTRAIN" verify-model "$tmp" 2>"$tmp/err"; then echo "FAIL: empty dir accepted"; exit 1; fi
grep -q "no reference logits" "$tmp/err"
echo "verify-model ok"
