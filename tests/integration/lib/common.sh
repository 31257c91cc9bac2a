# Shared by the algorithm integration tests (sourced; not a test itself). Needs $POSTTRAIN, $PT_PYTHON
# and $tmp set by the caller.
fail() { echo "FAIL: $*"; exit 1; }

# MPI-dependent parts: `if have_mpi "what"; then ...; fi` runs them when mpirun and an MPI build are
# here, else records the part as skipped; `end_test` then exits 77 (CTest's SKIP_RETURN_CODE), so
# a run that could not check everything is reported as skipped, never as passed.
skipped_parts=()
have_mpi() {
  if command -v mpirun > /dev/null && "$POSTTRAIN" version | grep -q "mpi *yes"; then return 0; fi
  skipped_parts+=("$1")
  echo "SKIPPED PART: $1 (no mpirun or no MPI in this build)"
  return 1
}
end_test() {
  if [ "${#skipped_parts[@]}" -gt 0 ]; then echo "skipped parts: ${skipped_parts[*]}"; exit 77; fi
}

# Values of metric KEY per training step of RUN_DIR/metrics.jsonl (eval lines excluded), as Python reprs.
col() {
  "$PT_PYTHON" -c 'import json,sys; print(" ".join(repr(json.loads(l)[sys.argv[2]]) for l in open(sys.argv[1]) if "\"" + sys.argv[2] + "\"" in l and "eval/" not in l))' "$1" "$2"
}

# An SFT'd quickstart model at $tmp/NAME/model after STEPS steps (no evaluation, no checkpoint).
sft_base() {
  "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name="$1" \
    --set trainer.max_steps="$2" --set trainer.eval.every=0 --set trainer.eval.at_start=false \
    --set trainer.eval.at_end=false --set checkpoint.save_final=false > "$tmp/$1.log" 2>&1 || { cat "$tmp/$1.log"; fail "SFT base $1"; }
}

# 8 steps, checkpoints every 2, metrics every step, no evaluation, 2 warmup steps.
short=(--set trainer.max_steps=8 --set checkpoint.every=2 --set checkpoint.keep_last=2 --set trainer.eval.every=0
       --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set logging.every=1 --set schedule.warmup_steps=2)

# Exact resume: NAME-a runs 8 steps straight; NAME-b is killed by SIGKILL inside step 6, then
# resumed from step 4; the metrics KEYS (comma-separated) must be identical per step.
#   resume_check NAME RECIPE KEYS ARGS...
resume_check() {
  local name="$1" recipe="$2" keys="$3"; shift 3
  "$POSTTRAIN" run "$recipe" "${short[@]}" "$@" --set run.name="$name-a" > "$tmp/$name-a.log" 2>&1 || { cat "$tmp/$name-a.log"; fail "$name straight"; }
  set +e
  POSTTRAIN_FAULT=kill_in_step:6 "$POSTTRAIN" run "$recipe" "${short[@]}" "$@" --set run.name="$name-b" > "$tmp/$name-b.log" 2>&1
  local rc=$?
  set -e
  [ "$rc" -eq 137 ] || { cat "$tmp/$name-b.log"; fail "$name: expected SIGKILL (137), got $rc"; }
  "$POSTTRAIN" run "$recipe" "${short[@]}" "$@" --set run.name="$name-b" > "$tmp/$name-b2.log" 2>&1 || { cat "$tmp/$name-b2.log"; fail "$name resume"; }
  grep -q "resumed from .*step-00000004 at step 4" "$tmp/$name-b2.log" || fail "$name did not resume from step 4"
  local k a b
  for k in ${keys//,/ }; do
    a="$(col "$tmp/$name-a/metrics.jsonl" "$k")"; b="$(col "$tmp/$name-b/metrics.jsonl" "$k")"
    [ "$(echo "$a" | wc -w)" -eq 8 ] || fail "$name: expected 8 values of $k, got: $a"
    [ "$a" = "$b" ] || fail "$name: $k differs after resume:\n$a\n$b"
  done
  echo "$name exact resume: 8 steps identical ($keys): $(col "$tmp/$name-a/metrics.jsonl" "${keys%%,*}")"
}

# verify-model against transformers' own logits (eager fp32, one document at a time): LABEL MODEL [ARGS...]
# (ARGS: hf_reference_logits.py options before --, verify-model options after it).
parity() {
  local label="$1" model="$2"; shift 2
  local ref_args=() ver_args=() seen=0 a
  for a in "$@"; do
    if [ "$a" = "--" ]; then seen=1; elif [ "$seen" = 0 ]; then ref_args+=("$a"); else ver_args+=("$a"); fi
  done
  local ref="$tmp/ref-$(echo "$label" | tr -c 'a-zA-Z0-9' _).safetensors"
  "$PT_PYTHON" scripts/hf_reference_logits.py "${ref_model:-$model}" "$ref" "${ref_args[@]}" > /dev/null 2>&1
  "$POSTTRAIN" verify-model "$model" --reference "$ref" "${ver_args[@]}" | tee "$tmp/v.txt" | grep -E "max abs|packed|result" | sed "s/^/$label: /"
  grep -q "result .*PASS" "$tmp/v.txt" || fail "$label: logits differ from transformers"
}
# Cached greedy generation vs transformers generate(): 12 prompts of 3..40 tokens + 20 new. LABEL MODEL
greedy() {
  "$PT_PYTHON" tests/reference/hf_greedy.py "$2" "$tmp/greedy.json" 12 20 2> /dev/null
  "$PT_PYTHON" -c 'import json,sys; [print(json.dumps({"prompt_ids": r["prompt"]})) for r in json.load(open(sys.argv[1]))]' "$tmp/greedy.json" > "$tmp/prompts.jsonl"
  "$POSTTRAIN" generate --model "$2" --input "$tmp/prompts.jsonl" --output "$tmp/ours.jsonl" --max-new-tokens 20 --stop-id -1 \
    --max-batch 5 --no-progress 2> /dev/null || fail "$1: posttrain generate"
  "$PT_PYTHON" - "$tmp/greedy.json" "$tmp/ours.jsonl" "$1" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = [json.loads(l)["completions"][0]["tokens"] for l in open(sys.argv[2])]
same = sum(r["completion"] == o for r, o in zip(ref, ours))
print(f"{sys.argv[3]}: greedy generation vs transformers {same}/{len(ref)} identical")
assert same == len(ref), [(r["completion"], o) for r, o in zip(ref, ours) if r["completion"] != o][:2]
PY
}

# An RL run on the quickstart reversal task that must raise held-out greedy exact match by 0.04:
#   rl_learn NAME ARGS...   (the caller sets $recipe and the array common=(--set ...)); prints the
# curve, and the critic's value loss when the run has one (PPO).
rl_learn() {
  local name="$1"; shift
  "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name run"; }
  "$PT_PYTHON" - "$tmp/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in rows if "eval/rewards/exact_match" in r]
curve = ", ".join(f"{r['step']}: {r['eval/rewards/exact_match']:.2f}" for r in ev)
print(f"{sys.argv[2]}: held-out greedy exact match {curve}")
assert ev[-1]["eval/rewards/exact_match"] >= ev[0]["eval/rewards/exact_match"] + 0.04, curve
vl = [r["critic/value_loss"] for r in rows if "critic/value_loss" in r]
if len(vl) >= 10:
    print(f"{sys.argv[2]}: critic value loss, mean of the first 5 logged steps {sum(vl[:5]) / 5:.4f}, of the last 5 {sum(vl[-5:]) / 5:.4f}")
PY
}

# KTO's unpaired records from the DPO example's pairs (chosen = desirable, rejected = not).
#   kto_records OUT
kto_records() {
  "$PT_PYTHON" - examples/dpo/train.jsonl "$1" <<'PY'
import json, sys
with open(sys.argv[2], "w") as f:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        f.write(json.dumps({"prompt": r["prompt"], "completion": r["chosen"], "label": True}) + "\n")
        f.write(json.dumps({"prompt": r["prompt"], "completion": r["rejected"], "label": False}) + "\n")
PY
}
