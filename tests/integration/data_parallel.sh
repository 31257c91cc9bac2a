#!/usr/bin/env bash
# Data parallelism over MPI on CPU ranks: 2 ranks train the same steps as 1 rank (each rank keeps
# its share of every step; gradients summed) — the same losses up to float summation order and the
# same final weights; a 2-rank run killed in mid-step resumes bit for bit; a resume with another
# number of ranks is refused.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
if ! command -v mpirun > /dev/null; then echo "SKIP: no mpirun"; exit 0; fi
"$POSTTRAIN" version | grep -q "mpi *yes" || { echo "SKIP: built without MPI"; exit 0; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
recipe=examples/quickstart/recipe.yaml
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
common=(--set run.output_dir="$tmp" --set trainer.max_steps=8 --set checkpoint.every=2 --set trainer.eval.every=0
        --set trainer.eval.generate=false --set logging.every=1 --set schedule.warmup_steps=2)
fail() { echo "FAIL: $*"; exit 1; }
losses() { "$PT_PYTHON" -c 'import json,sys; print(" ".join(repr(json.loads(l)["loss"]) for l in open(sys.argv[1]) if "\"loss\"" in l))' "$1"; }

"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=one > "$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; fail "1 rank"; }
"${mpi[@]}" "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=two > "$tmp/two.log" 2>&1 || { cat "$tmp/two.log"; fail "2 ranks"; }
grep -q "\[rank 0/2\] trained 8 steps" "$tmp/two.log" || { cat "$tmp/two.log"; fail "2-rank run did not train 8 steps"; }
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
from safetensors.numpy import load_file
t = sys.argv[1]
a, b = ([json.loads(l)["loss"] for l in open(f"{t}/{r}/metrics.jsonl") if '"loss"' in l] for r in ("one", "two"))
rel = max(abs(x - y) / abs(x) for x, y in zip(a, b))
assert len(a) == len(b) == 8 and rel < 1e-5, (a, b)
wa, wb = load_file(f"{t}/one/model/model.safetensors"), load_file(f"{t}/two/model/model.safetensors")
diff = max(float(abs(wa[k] - wb[k]).max()) for k in wa)
assert wa.keys() == wb.keys() and diff < 1e-5, diff
print(f"1 rank vs 2 ranks: 8 losses within {rel:.1e} (relative), weights within {diff:.1e}")
PY

set +e
POSTTRAIN_FAULT=kill_in_step:6 "${mpi[@]}" "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/killed.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "the killed 2-rank run exited 0"
"${mpi[@]}" "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/resumed.log" 2>&1 || { cat "$tmp/resumed.log"; fail "2-rank resume"; }
grep -q "resumed from .*step-00000004 at step 4" "$tmp/resumed.log" || { cat "$tmp/resumed.log"; fail "did not resume from step 4"; }
[ "$(losses "$tmp/two/metrics.jsonl")" = "$(losses "$tmp/killed/metrics.jsonl")" ] || fail "2-rank losses differ after resume"
cmp "$tmp/two/model/model.safetensors" "$tmp/killed/model/model.safetensors" || fail "2-rank weights differ after resume"
echo "2 ranks: SIGKILL in step 6 + resume -> identical losses and weights"

if "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/mismatch.log" 2>&1; then
  fail "a 2-rank checkpoint resumed on 1 rank"
fi
grep -q "written by a run of 2 ranks, this one has 1" "$tmp/mismatch.log" || { cat "$tmp/mismatch.log"; fail "no world-size error"; }
echo "data parallel ok"
