#!/usr/bin/env bash
# The README's resume flags, end to end (CPU, quickstart, 8 steps, a checkpoint every 2, all kept):
#  - `--resume never` over a run directory that holds checkpoints is refused naming the newest, and
#    leaves them untouched; with `--force` it starts at step 0 and reproduces the first run's losses;
#  - `--resume PATH` continues from that checkpoint, even an older one of another run, into a new run
#    directory: steps 5..8 and the final weights equal the straight run's;
#  - the resume-safe recipe changes (logging, checkpoint cadence and retention, evaluation, run name,
#    prefetch) are accepted on resume without --force, and the run stays exact;
#  - `--resume PATH` that is not a complete checkpoint is refused naming the path and what is missing.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
recipe=examples/quickstart/recipe.yaml
common=(--set run.output_dir="$tmp" --set trainer.max_steps=8 --set checkpoint.every=2 --set checkpoint.keep_last=10
        --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false
        --set logging.every=1 --set schedule.warmup_steps=2)
losses() { col "$1/metrics.jsonl" loss; }
steps() { col "$1/metrics.jsonl" step; }
listing() { (cd "$1/checkpoints" && find . -type f -exec stat -c '%n %s %Y' {} + | sort); }

"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=a > "$tmp/a.log" 2>&1 || { cat "$tmp/a.log"; fail "straight run"; }
[ "$(losses "$tmp/a" | wc -w)" -eq 8 ] || fail "expected 8 losses: $(losses "$tmp/a")"

# --resume never: refused over existing checkpoints, which stay as they were.
before="$(listing "$tmp/a")"
if "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=a --resume never > "$tmp/never.log" 2>&1; then
  fail "--resume never ran over a directory with checkpoints"
fi
grep -q "already holds checkpoints (newest: .*step-00000008)" "$tmp/never.log" || { cat "$tmp/never.log"; fail "--resume never: no reason given"; }
[ "$before" = "$(listing "$tmp/a")" ] || fail "--resume never touched the checkpoints"
# ... and with --force it starts over from step 0: the same 8 losses again, no resume.
cp "$tmp/a/metrics.jsonl" "$tmp/a-metrics.jsonl"
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=a --resume never --force > "$tmp/never2.log" 2>&1 || { cat "$tmp/never2.log"; fail "--resume never --force"; }
! grep -q "resumed from" "$tmp/never2.log" || fail "--resume never --force resumed"
"$PT_PYTHON" - "$tmp/a-metrics.jsonl" "$tmp/a/metrics.jsonl" <<'PY'
import json, sys
first = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
now = [json.loads(l) for l in open(sys.argv[2]) if '"loss"' in l]  # a run started over writes a new file
assert [r["step"] for r in now] == list(range(1, 9)), [r["step"] for r in now]
assert [r["loss"] for r in now] == [r["loss"] for r in first], (now, first)
print("--resume never --force: started at step 0, the same 8 losses")
PY
echo "--resume never: refused over 4 checkpoints (left untouched); with --force the run starts over identically"

# --resume PATH: another run directory continues from run a's step 4 (not its newest checkpoint).
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=b --resume "$tmp/a/checkpoints/step-00000004" > "$tmp/b.log" 2>&1 || { cat "$tmp/b.log"; fail "--resume PATH"; }
grep -q "resumed from .*a/checkpoints/step-00000004 at step 4" "$tmp/b.log" || { cat "$tmp/b.log"; fail "--resume PATH did not resume from a's step 4"; }
[ "$(steps "$tmp/b")" = "5 6 7 8" ] || fail "--resume PATH: steps $(steps "$tmp/b")"
[ "$(losses "$tmp/b")" = "$(losses "$tmp/a" | cut -d' ' -f5-)" ] || fail "--resume PATH: losses differ:\n$(losses "$tmp/a")\n$(losses "$tmp/b")"
cmp "$tmp/a/model/model.safetensors" "$tmp/b/model/model.safetensors" || fail "--resume PATH: final weights differ"
echo "--resume PATH: run b continued from a's step 4; steps 5-8 and the final weights equal a's"

# Resume-safe changes: the run killed in step 6 resumes with another logging/checkpoint/eval cadence,
# another checkpoint retention and prefetch, with no --force, and still ends where run a did.
set +e
POSTTRAIN_FAULT=kill_in_step:6 "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=c > "$tmp/c1.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] || { cat "$tmp/c1.log"; fail "expected SIGKILL (137) in step 6, got $rc"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=c --set logging.every=2 --set checkpoint.every=3 \
  --set checkpoint.keep_last=1 --set trainer.eval.at_end=true --set data.prefetch=4 > "$tmp/c2.log" 2>&1 || { cat "$tmp/c2.log"; fail "resume with safe changes"; }
grep -q "resumed from .*step-00000004 at step 4" "$tmp/c2.log" || { cat "$tmp/c2.log"; fail "safe changes: did not resume from step 4"; }
! grep -q "refusing\|--force" "$tmp/c2.log" || fail "safe changes were refused or forced"
cmp "$tmp/a/model/model.safetensors" "$tmp/c/model/model.safetensors" || fail "safe changes: final weights differ"
[ "$(ls "$tmp/c/checkpoints")" = "step-00000008" ] || fail "checkpoint.keep_last=1 not applied: $(ls "$tmp/c/checkpoints")"
grep -q '"eval/loss"' "$tmp/c/metrics.jsonl" || fail "trainer.eval.at_end=true not applied on resume"
echo "resume with logging.every, checkpoint.every/keep_last, trainer.eval.at_end and data.prefetch changed: accepted, final weights equal"

# --resume PATH that is not a checkpoint (an incomplete one: its DONE marker removed).
cp -r "$tmp/a/checkpoints/step-00000006" "$tmp/broken"
rm "$tmp/broken/DONE"
if "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=d --resume "$tmp/broken" > "$tmp/d.log" 2>&1; then fail "an incomplete checkpoint was resumed"; fi
grep -q "\-\-resume $tmp/broken: not a complete checkpoint" "$tmp/d.log" || { cat "$tmp/d.log"; fail "no reason for the refused --resume PATH"; }
echo "--resume PATH without a DONE marker: refused ($(grep -o 'not a complete checkpoint.*' "$tmp/d.log" | head -1))"
