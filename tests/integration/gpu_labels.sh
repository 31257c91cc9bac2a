#!/usr/bin/env bash
# GPU checks are labelled and skipped where there is no GPU (and scripts/gpu/check.sh says so):
#  - CTest knows the gpu-labelled tests (gpu:unit, gpu:train) and reports them skipped, not passed;
#  - the [.gpu] Catch2 cases exist but are hidden from the default (CPU) run;
#  - scripts/gpu/check.sh exits non-zero with the "no GPU" message before building anything, for
#    every split of its steps the README documents (the command lines as written there); an unknown
#    step or option and a malformed --budget are refused by name.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_BUILD_DIR:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# OUT COMMAND...: runs it with stdout and stderr into OUT; its exit status lands in rc.
run_rc() { local out="$1"; shift; set +e; "$@" > "$out" 2>&1; rc=$?; set -e; }

if "$POSTTRAIN" version | grep -Eq "devices visible: [1-9]"; then
  echo "a GPU is visible here: the gpu-labelled tests run for real (ctest -L gpu / scripts/gpu/check.sh)"
  exit 0
fi

# From CTest's own test list: every gpu:* test is labelled gpu and skips on exit code 77.
ctest --test-dir "$PT_BUILD_DIR" --show-only=json-v1 > "$tmp/tests.json"
gpu_tests="$("$PT_PYTHON" - "$tmp/tests.json" <<'PY'
import json, sys
tests = [t for t in json.load(open(sys.argv[1]))["tests"] if t["name"].startswith("gpu:")]
for t in tests:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    assert "gpu" in props.get("LABELS", []), (t["name"], props)
    assert str(props.get("SKIP_RETURN_CODE")) == "77", (t["name"], props)
    print(t["name"], " ".join(t["command"]))
PY
)" || fail "gpu tests not labelled / skippable"
for t in gpu:unit gpu:train; do echo "$gpu_tests" | grep -q "^$t " || fail "$t missing from CTest: $gpu_tests"; done
# Each one skips here (77), before doing anything.
while read -r name cmd; do
  run_rc "$tmp/skip.txt" env PT_TESTS_TORCH="$PT_BUILD_DIR/tests/pt_tests_torch" $cmd
  [ "$rc" -eq 77 ] || { cat "$tmp/skip.txt"; fail "$name exited $rc without a GPU (expected 77 = skipped)"; }
  grep -q "SKIPPED: no CUDA device visible" "$tmp/skip.txt" || fail "$name: no skip message"
done <<< "$gpu_tests"

tests_torch="$PT_BUILD_DIR/tests/pt_tests_torch"
hidden="$("$tests_torch" --list-test-names-only "[gpu]" | grep -c '^gpu:')" || true
[ "$hidden" -ge 2 ] || fail "expected the [.gpu] cases, found $hidden"
if "$tests_torch" --list-test-names-only | grep -q '^gpu:'; then fail "a [gpu] case runs in the default (CPU) run"; fi

run_rc "$tmp/check.txt" bash scripts/gpu/check.sh "$tmp/report.txt"
[ "$rc" -ne 0 ] || { cat "$tmp/check.txt"; fail "scripts/gpu/check.sh succeeded without a GPU"; }
grep -q "no GPU" "$tmp/check.txt" || { cat "$tmp/check.txt"; fail "check.sh did not say there is no GPU"; }
# The split runs the README documents, as written there (REPORT -> a temporary file), pass check.sh's
# option parsing and reach the GPU test (exit 1); unknown steps and bad options are refused (exit 2).
mapfile -t documented < <(grep -o 'check.sh --steps [^`]*' README.md | sed 's|\$OUT/[^ ]*|'"$tmp/report.txt"'|')
[ "${#documented[@]}" -ge 2 ] || fail "README documents no split GPU check: ${documented[*]}"
for cmdline in "${documented[@]}"; do
  read -r -a args <<< "${cmdline#check.sh }"
  [ "${args[-1]}" = "$tmp/report.txt" ] || fail "README's check.sh command does not end in \$OUT/REPORT: $cmdline"
  run_rc "$tmp/check.txt" bash scripts/gpu/check.sh "${args[@]}"
  [ "$rc" -eq 1 ] && grep -q "no GPU" "$tmp/check.txt" || { cat "$tmp/check.txt"; fail "$cmdline: exit $rc"; }
done
run_rc "$tmp/unknown.txt" bash scripts/gpu/check.sh --steps gpu-tests,bench-sf "$tmp/report.txt"
[ "$rc" -eq 2 ] && grep -q "unknown step 'bench-sf'" "$tmp/unknown.txt" || { cat "$tmp/unknown.txt"; fail "check.sh took an unknown step: exit $rc"; }
run_rc "$tmp/preset.txt" bash scripts/gpu/check.sh --steps bench-sft=llama-1b "$tmp/report.txt"
[ "$rc" -eq 2 ] && grep -q "unknown bench_sft preset in 'bench-sft=llama-1b'" "$tmp/preset.txt" || { cat "$tmp/preset.txt"; fail "check.sh took bench-sft=llama-1b: exit $rc"; }
run_rc "$tmp/budget.txt" bash scripts/gpu/check.sh --budget 5m "$tmp/report.txt"
[ "$rc" -eq 2 ] && grep -q "whole number of seconds, got '5m'" "$tmp/budget.txt" || { cat "$tmp/budget.txt"; fail "check.sh took --budget 5m: exit $rc"; }
run_rc "$tmp/option.txt" bash scripts/gpu/check.sh --step gpu-tests "$tmp/report.txt"
[ "$rc" -eq 2 ] && grep -q "unknown option '--step'" "$tmp/option.txt" || { cat "$tmp/option.txt"; fail "check.sh took --step: exit $rc"; }
run_rc "$tmp/nccl.txt" bash scripts/gpu/nccl_check.sh "$PT_BUILD_DIR"
[ "$rc" -ne 0 ] && grep -q "no GPU" "$tmp/nccl.txt" || { cat "$tmp/nccl.txt"; fail "nccl_check.sh without a GPU: exit $rc"; }
echo "gpu tests: $(echo "$gpu_tests" | wc -l) labelled gpu, all skipped here; $hidden hidden [.gpu] cases; check.sh (${#documented[@]} documented splits): $(head -1 "$tmp/check.txt"); nccl_check.sh: $(head -1 "$tmp/nccl.txt")"
