#!/usr/bin/env bash
# Run provenance, `posttrain diff` and `posttrain run --reproduce` on the quickstart (CPU):
#  - every run records provenance.jsonl; the data file's hash equals zlib.crc32 computed here
#  - two runs that differ only in run name and output directory: diff exit 0 (with --metrics too)
#  - --reproduce re-runs a recorded run with bit-identical per-step losses
#  - one record edited in place (same path, same size): diff names the file and both hashes, and
#    --reproduce refuses, listing it, and leaves no run directory behind
#  - another thread count (environment), another rank layout (launch), another lr (--metrics: the
#    first diverging step)
#  - a resumed run appends a record; each checkpoint keeps the lineage of its state
#  - a corrupt provenance.jsonl is an error naming file:line; a run without one compares recipes only
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
# The "another thread count" case compares 1 thread with 2: pin the baseline whatever the caller exports.
export OMP_NUM_THREADS=1
cp -r examples/quickstart "$tmp/qs"
recipe="$tmp/qs/recipe.yaml"
args=(--set trainer.max_steps=12 --set trainer.eval.every=0 --set trainer.eval.at_start=false
      --set trainer.eval.at_end=false --set logging.every=1 --set checkpoint.every=6 --set checkpoint.keep_last=2)
train() {
  local out="$1" name="$2"; shift 2
  "$POSTTRAIN" run "$recipe" "${args[@]}" --set run.output_dir="$out" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log"; fail "run $name"; }
}
# expect_rc RC COMMAND...: runs it with its output in $tmp/out.txt and checks the exit code.
expect_rc() {
  local want="$1"; shift
  set +e; "$@" > "$tmp/out.txt" 2>&1; local rc=$?; set -e
  [ "$rc" -eq "$want" ] || { cat "$tmp/out.txt"; fail "expected exit $want, got $rc: $*"; }
}
has() { grep -qF -- "$1" "$tmp/out.txt" || { cat "$tmp/out.txt"; fail "expected '$1' in the output"; }; }
crc() { "$PT_PYTHON" -c 'import sys,zlib; print("crc32:%08x" % zlib.crc32(open(sys.argv[1],"rb").read()))' "$1"; }

train "$tmp/o1" a
train "$tmp/o2" b
"$PT_PYTHON" - "$tmp/o1/a/provenance.jsonl" "$(crc "$tmp/qs/train.jsonl")" <<'PY' || fail "provenance record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["event"] == "start", recs
r = recs[0]
for section in ("build", "libraries", "environment", "launch", "command", "inputs"):
    assert section in r, section
assert r["build"]["commit"] and r["build"]["binary"].startswith("crc32:") and r["build"]["torch"]
assert r["launch"]["world_size"] == 1 and r["environment"]["threads"] >= 1
inputs = {i["role"]: i for i in r["inputs"]}
assert set(inputs) == {"data.sources[0].path", "model.path", "tokenizer.path"}, set(inputs)
data = inputs["data.sources[0].path"]["files"]
assert [f["name"] for f in data] == ["train.jsonl"] and data[0]["hash"] == sys.argv[2], (data, sys.argv[2])
model = {f["name"]: f for f in inputs["model.path"]["files"]}
assert "header_hash" in model["model.safetensors"] and "config.json" in model
print("provenance record: sections, data hash = zlib.crc32, model files with header hashes")
PY

# Only the run name and output directory differ: nothing that can change results.
expect_rc 0 "$POSTTRAIN" diff "$tmp/o1/a" "$tmp/o2/b"
has "recipe, not counted"; has "~ name: a -> b"; has "no difference that can change results"
expect_rc 0 "$POSTTRAIN" diff "$tmp/o1/a" "$tmp/o2/b" --metrics
has "losses and rewards equal at all 12 logged steps in common"
expect_rc 0 "$POSTTRAIN" diff "$tmp/o1/a/checkpoints/step-00000006" "$tmp/o2/b/checkpoints/step-00000006" --metrics
has "equal at all 6 logged steps"
expect_rc 1 "$POSTTRAIN" diff --recipe-only "$tmp/o1/a" "$tmp/o2/b"
echo "diff: name and output directory only -> exit 0 (with --metrics, and on checkpoints); --recipe-only -> 1"

# --reproduce: same losses bit for bit.
expect_rc 0 "$POSTTRAIN" run --reproduce "$tmp/o1/a"
has "inputs match the recorded run"
[ "$(col "$tmp/o1/a/metrics.jsonl" loss)" = "$(col "$tmp/o1/a-reproduce/metrics.jsonl" loss)" ] || fail "reproduced losses differ"
[ "$(col "$tmp/o1/a/metrics.jsonl" loss | wc -w)" -eq 12 ] || fail "expected 12 losses"
expect_rc 0 "$POSTTRAIN" diff "$tmp/o1/a" "$tmp/o1/a-reproduce" --metrics
echo "--reproduce: 12 per-step losses bit for bit"

# One record edited in place: same path, same size, another hash.
before="$(crc "$tmp/qs/train.jsonl")"
"$PT_PYTHON" - "$tmp/qs/train.jsonl" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b"Reverse the digits: ") + len("Reverse the digits: ")
b[i] = ord("1") if b[i] != ord("1") else ord("2")
open(p, "wb").write(b)
PY
after="$(crc "$tmp/qs/train.jsonl")"
train "$tmp/o3" c
expect_rc 1 "$POSTTRAIN" diff "$tmp/o1/a" "$tmp/o3/c"
has "~ data.sources[0].path: train.jsonl: $before, 692870 bytes -> $after, 692870 bytes   (content changed, same size)"
has "1 difference that can change results"
expect_rc 2 "$POSTTRAIN" run --reproduce "$tmp/o1/a"
has "this would not be the same run"; has "train.jsonl: $before"
[ ! -e "$tmp/o1/a-reproduce-2" ] || fail "a refused --reproduce left its run directory"
echo "edited record: diff names train.jsonl $before -> $after; --reproduce refused, nothing left behind"

# Environment: another thread count.
OMP_NUM_THREADS=2 train "$tmp/o4" d
expect_rc 1 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/o4/d"
has "environment:"; has "~ environment.threads: 1 -> 2"

# --metrics: another learning rate diverges at step 2 (step 1's loss is taken before any update).
train "$tmp/o5" e --set optimizer.lr=1e-3
expect_rc 1 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/o5/e" --metrics
has "~ lr: 0.003 -> 0.001"; has "first diverging logged step: 2 (loss"
echo "diff: thread count under environment; lr change first diverges at step 2"

# A resumed run appends a record; each checkpoint keeps the lineage of its own state.
set +e
POSTTRAIN_FAULT=kill_in_step:9 "$POSTTRAIN" run "$recipe" "${args[@]}" --set run.output_dir="$tmp/o6" --set run.name=f > "$tmp/f.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] || { cat "$tmp/f.log"; fail "expected SIGKILL (137), got $rc"; }
train "$tmp/o6" f
grep -q "resumed from .*step-00000006 at step 6" "$tmp/f.log" || fail "did not resume"
"$PT_PYTHON" - "$tmp/o6/f" <<'PY' || fail "provenance lineage"
import json, sys
read = lambda p: [json.loads(l) for l in open(p)]
run = read(sys.argv[1] + "/provenance.jsonl")
assert [r["event"] for r in run] == ["start", "resume"], run
assert run[1]["resumed_from"].endswith("step-00000006"), run[1]
assert [r["event"] for r in read(sys.argv[1] + "/checkpoints/step-00000006/provenance.jsonl")] == ["start"]
assert [r["event"] for r in read(sys.argv[1] + "/checkpoints/step-00000012/provenance.jsonl")] == ["start", "resume"]
print("resume: run directory start + resume records; checkpoint 6 holds [start], checkpoint 12 [start, resume]")
PY
expect_rc 0 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/o6/f" --metrics

# Launch: two data-parallel ranks.
if have_mpi "rank layout in diff"; then
  mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" "${args[@]}" --set run.output_dir="$tmp/o7" \
    --set run.name=g > "$tmp/g.log" 2>&1 || { cat "$tmp/g.log"; fail "2-rank run"; }
  expect_rc 1 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/o7/g"
  has "launch:"; has "~ launch.world_size: 1 -> 2"; has "~ launch.data_parallel: 1 -> 2"; has "~ launch.launcher: single process -> mpi"
  echo "diff: rank layout under launch"
fi

# Bad and missing provenance.
cp -r "$tmp/o3/c" "$tmp/broken"
echo '{"format": "posttrain-provenance-v1"' > "$tmp/broken/provenance.jsonl.head"
{ cat "$tmp/broken/provenance.jsonl.head"; cat "$tmp/o3/c/provenance.jsonl"; } > "$tmp/broken/provenance.jsonl"
expect_rc 2 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/broken"
has "broken/provenance.jsonl:1: not a JSON provenance record"
rm "$tmp/broken/provenance.jsonl"
expect_rc 0 "$POSTTRAIN" diff "$tmp/o3/c" "$tmp/broken"
has "provenance: not compared"
echo "provenance ok"
end_test
