#!/usr/bin/env bash
# GRPO end to end on the quickstart fixtures (CPU):
#  - learning: from a short SFT base, GRPO with an exact-match reward raises the held-out greedy
#    exact-match reward (before/after and the curve printed)
#  - exact resume after SIGKILL inside a step: identical per-step rewards and losses, identical weights
#  - beta > 0 (k3 KL to a frozen reference: 0 on the first update, then positive), GSPO (sequence-level
#    ratios: another loss on the same rollouts), dr_grpo aggregation with dynamic sampling (whole groups
#    dropped: selected fraction in multiples of a group)
#  - an external reward command that crashes, hangs past its timeout or prints garbage stops the run
#    with a message naming the reward and the line, and the last checkpoint stays intact and
#    resumable; under on_error: skip the run finishes and counts the unscored completions
#  - roles on separate MPI rank groups (algorithm.grpo.rollout_ranks; 2, 3 and 4 ranks): the same
#    per-step rewards as the colocated run with as many training ranks, and the same learning curve;
#    without mpirun the option is refused
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
recipe=examples/grpo/recipe.yaml
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model")

"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=learn > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "GRPO run"; }
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in rows if "eval/rewards/exact_match" in r]
curve = ", ".join(f"{r['step']}: {r['eval/rewards/exact_match']:.2f}" for r in ev)
train = [r for r in rows if "rewards/exact_match" in r]
print(f"grpo learning: held-out greedy exact match {ev[0]['eval/rewards/exact_match']:.2f} -> {ev[-1]['eval/rewards/exact_match']:.2f} ({curve}); "
      f"sampled reward {train[0]['rewards/exact_match']:.2f} -> {train[-1]['rewards/exact_match']:.2f}")
assert ev[-1]["eval/rewards/exact_match"] >= ev[0]["eval/rewards/exact_match"] + 0.05, curve
for k in ("clip_fraction", "logprob_mismatch", "completion_length", "completion_length_max", "truncated_fraction",
          "rewards/exact_match_std", "time/rollout_s", "rollout_tokens_per_s"):
    assert k in train[-1], k
assert train[0]["logprob_mismatch"] < 1e-4, train[0]["logprob_mismatch"]
PY

resume_check resume "$recipe" reward,loss "${common[@]}"
cmp "$tmp/resume-a/model/model.safetensors" "$tmp/resume-b/model/model.safetensors" || fail "final weights differ"

# Variants.
variant() {  # NAME EXPECTED-METRIC ARGS...
  local name="$1" key="$2"; shift 2
  "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set checkpoint.save_final=false "$@" --set run.name="$name" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name"; }
  [ -n "$(col "$tmp/$name/metrics.jsonl" "$key")" ] || fail "$name: no $key metric"
}
variant kl kl --set algorithm.grpo.beta=0.04
grep -q "KL reference = frozen copy" "$tmp/kl.log" || fail "beta > 0 loaded no reference"
variant gspo loss --set algorithm.grpo.importance_sampling=sequence --set algorithm.grpo.loss=grpo
variant drgrpo selected_fraction --set algorithm.grpo.loss=dr_grpo --set algorithm.grpo.scale_rewards=none --set algorithm.grpo.dynamic_sampling=true --set algorithm.grpo.mini_batches=2
"$PT_PYTHON" tests/reference/make_seq_cls.py "$tmp/rm" qwen2 1 2> /dev/null
variant rm rewards/rm --set "algorithm.grpo.rewards=[{name: exact_match}, {name: model, label: rm, model: $tmp/rm, weight: 0.1}]"
# What each variant changes, against the plain run (resume-a: DAPO, token ratios, no KL, every group).
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
def rows(name):
    return [json.loads(l) for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl") if '"loss"' in l and "eval/" not in l]
base, kl, gspo, dr = rows("resume-a"), rows("kl"), rows("gspo"), rows("drgrpo")
# k3 KL: zero while the policy is the reference (the first update), then positive; the same first rollouts.
k = [r["kl"] for r in kl]
assert k[0] < 1e-6 and max(k[1:]) > 1e-6, k
assert kl[0]["reward"] == base[0]["reward"], (kl[0]["reward"], base[0]["reward"])
# GSPO (sequence ratios, grpo aggregation): the same first rollouts, another loss; its clip fraction
# counts whole sequences, so it moves in steps of 1 / (completions of the step).
assert gspo[0]["reward"] == base[0]["reward"] and abs(gspo[0]["loss"] - base[0]["loss"]) > 1e-6, (gspo[0], base[0])
# Dynamic sampling drops whole groups of equal rewards: the selected fraction is a multiple of 1/16
# (16 prompts a step) and below 1 where some group was uniform.
sel = [r["selected_fraction"] for r in dr if "selected_fraction" in r]
assert sel and min(sel) < 1 and all(abs(x * 16 - round(x * 16)) < 1e-9 for x in sel), sel
print(f"grpo variants: kl per step {[round(x, 5) for x in k]}; GSPO first loss {gspo[0]['loss']:.5f} vs token-level "
      f"{base[0]['loss']:.5f}; dynamic sampling keeps {sel} of each step's groups")
PY
echo "grpo variants: k3 KL (beta 0.04), GSPO, Dr. GRPO with dynamic sampling and 2 mini-batches, a reward model: ran and checked"

# Two runs that should draw the same rollouts, compared while their completions agree: the same
# per-step rewards, losses within 1e-5 (lib/rollout_agreement.py). REF RUN LABEL REF-LABEL
agrees() {
  "$PT_PYTHON" - "$tmp/$1/metrics.jsonl" "$tmp/$2/metrics.jsonl" "$3" "$4" <<'PY'
import json, sys
sys.path.insert(0, "tests/integration/lib")
from rollout_agreement import agreeing_steps, max_diff_while_agreeing
rows = lambda f: [json.loads(l) for l in open(f) if '"reward"' in l and "eval/" not in l]
ra, rb = rows(sys.argv[1]), rows(sys.argv[2])
a, b = [r["reward"] for r in ra], [r["reward"] for r in rb]
agree = agreeing_steps(ra, rb)
worst = max_diff_while_agreeing(ra, rb, "loss", agree)
print(f"grpo {sys.argv[3]}: per-step sampled rewards {b} ({sys.argv[4]}: {'identical' if a == b else a}); "
    f"completions agree for {agree} of 8 steps, max |loss diff| over them {worst:.2e}")
assert len(a) == 8 and a[:agree] == b[:agree], (a, b)
assert worst < 1e-5, (agree, worst)
PY
}
# share_prompt_prefix (the default: each prompt read once per micro-batch for its group) against one
# whole document per completion: the same rollouts and per-step losses within float noise.
variant whole loss --set algorithm.grpo.share_prompt_prefix=false
agrees resume-a whole "one document per completion vs shared prompts" "shared"

# External reward commands that fail.
cat > "$tmp/judge.py" <<'PY'
import json, sys, time
mode, n = sys.argv[1], 0
for line in sys.stdin:
    n += 1
    r = json.loads(line)
    if mode == "crash" and n > 600: sys.exit(3)
    if mode == "hang" and n > 600: time.sleep(60)
    if mode == "garbage" and n > 600: print("oops", flush=True); continue
    print(json.dumps({"reward": float(r["completion"].strip() == r["record"]["answer"])}), flush=True)
PY
for mode in crash hang garbage; do
  judge=(--set "algorithm.grpo.rewards=[{name: command, label: judge, command: '$PT_PYTHON $tmp/judge.py $mode', timeout_s: 3}]")
  set +e
  "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "${judge[@]}" --set run.name="$mode" > "$tmp/$mode.log" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "$mode: the run did not stop"
  case "$mode" in
    crash) grep -q "reward 'judge' .*exited with status 3" "$tmp/$mode.log" || { cat "$tmp/$mode.log"; fail "crash message"; } ;;
    hang) grep -q "reward 'judge' .*no reply within timeout_s = 3" "$tmp/$mode.log" || { cat "$tmp/$mode.log"; fail "hang message"; } ;;
    garbage) grep -q "reward 'judge' .*reply line [0-9]*: expected a number" "$tmp/$mode.log" || { cat "$tmp/$mode.log"; fail "garbage message"; } ;;
  esac
  last="$(ls "$tmp/$mode/checkpoints" | tail -1)"
  [ -f "$tmp/$mode/checkpoints/$last/DONE" ] || fail "$mode: the last checkpoint is incomplete"
  echo "$mode: $(grep -o "reward 'judge'.*" "$tmp/$mode.log" | head -1 | cut -c1-150); last checkpoint $last intact"
done
# The crashed run resumes from its checkpoint once the reward works again.
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set run.name=crash \
  --set "algorithm.grpo.rewards=[{name: command, label: judge, command: '$PT_PYTHON $tmp/judge.py ok', timeout_s: 3}]" --force > "$tmp/crash2.log" 2>&1 || { cat "$tmp/crash2.log"; fail "resume after a reward crash"; }
grep -q "resumed from" "$tmp/crash2.log" || fail "the crashed run did not resume"
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set run.name=skip \
  --set "algorithm.grpo.rewards=[{name: command, label: judge, command: '$PT_PYTHON $tmp/judge.py garbage', timeout_s: 3, on_error: skip}]" > "$tmp/skip.log" 2>&1 || { cat "$tmp/skip.log"; fail "skip run"; }
"$PT_PYTHON" -c 'import json,sys; u=[json.loads(l)["unscored_fraction"] for l in open(sys.argv[1]) if "unscored_fraction" in l]; assert max(u) > 0, u; print(f"on_error: skip: the run finished; unscored fraction per step {u}")' "$tmp/skip/metrics.jsonl"

# Two colocated data-parallel ranks (prompts split by rank, gradients and loss denominators summed).
if have_mpi "multi-rank GRPO"; then
  mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" \
    --set trainer.micro_batch_tokens=256 --set run.name=dp2 > "$tmp/dp2.log" 2>&1 || { cat "$tmp/dp2.log"; fail "2-rank GRPO"; }
  # The ranks draw the 1-rank run's rollouts while the weights agree (measured here: a same-length,
  # same-reward sample flips at step 5, a completion length at step 7).
  agrees resume-a dp2 "on 2 ranks vs 1" "1 rank"
  # Separate rollout ranks (the last N ranks only generate; weights broadcast before every rollout
  # batch): the same rollouts as the colocated run with as many training ranks while the weights
  # agree, so the same per-step rewards, and losses equal to float rounding. 2 ranks = 1 trainer + 1 worker (vs 1
  # rank); 3 = 2 + 1 and 4 = 2 + 2 (vs 2 colocated ranks).
  sep() {  # NAME RANKS WORKERS REFERENCE-RUN
    mpirun --allow-run-as-root --oversubscribe -np "$2" "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" \
      --set trainer.micro_batch_tokens=256 --set algorithm.grpo.rollout_ranks="$3" --set run.name="$1" > "$tmp/$1.log" 2>&1 ||
      { cat "$tmp/$1.log"; fail "GRPO with $3 rollout rank(s) of $2"; }
    grep -q "rollouts on $3 separate rank" "$tmp/$1.log" || { cat "$tmp/$1.log"; fail "$1 did not use rollout ranks"; }
    # The worker's engine and the colocated one agree to float rounding, and so do the updates; a
    # sampled token may flip after a few steps (measured: sep2 at step 7).
    agrees "$4" "$1" "$1" colocated
  }
  sep sep2 2 1 resume-a
  sep sep3 3 1 dp2
  sep sep4 4 2 dp2
  # SIGKILL inside step 6 with separate roles (every training rank dies, mpirun takes the workers
  # down), then a resume from step 4: the same per-step rewards and losses as the uninterrupted sep3.
  sepk=(--set trainer.micro_batch_tokens=256 --set algorithm.grpo.rollout_ranks=1 --set run.name=sepk)
  set +e
  mpirun --allow-run-as-root --oversubscribe -np 3 -x POSTTRAIN_FAULT=kill_in_step:6 "$POSTTRAIN" run "$recipe" "${common[@]}" \
    "${short[@]}" "${sepk[@]}" > "$tmp/sepk.log" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || { cat "$tmp/sepk.log"; fail "the killed separate-roles run exited 0"; }
  mpirun --allow-run-as-root --oversubscribe -np 3 "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "${sepk[@]}" \
    > "$tmp/sepk2.log" 2>&1 || { cat "$tmp/sepk2.log"; fail "separate-roles resume"; }
  grep -q "resumed from .*step-00000004 at step 4" "$tmp/sepk2.log" || { cat "$tmp/sepk2.log"; fail "did not resume from step 4"; }
  for k in reward loss; do
    [ "$(col "$tmp/sep3/metrics.jsonl" "$k")" = "$(col "$tmp/sepk/metrics.jsonl" "$k")" ] || fail "separate roles: $k differs after resume"
  done
  echo "separate roles, SIGKILL in step 6 + resume: rewards and losses identical to the uninterrupted run (exit $rc when killed)"
  # Learning with separate roles (2 training ranks + 1 rollout rank), the learning recipe as above.
  mpirun --allow-run-as-root --oversubscribe -np 3 "$POSTTRAIN" run "$recipe" "${common[@]}" \
    --set trainer.micro_batch_tokens=256 --set algorithm.grpo.rollout_ranks=1 --set run.name=learn-sep > "$tmp/learn-sep.log" 2>&1 || { cat "$tmp/learn-sep.log"; fail "separate-roles learning run"; }
  "$PT_PYTHON" - "$tmp/learn/metrics.jsonl" "$tmp/learn-sep/metrics.jsonl" <<'PY'
import json, sys
def ev(f):
    return [json.loads(l)["eval/rewards/exact_match"] for l in open(f) if "eval/rewards/exact_match" in l]
a, b = ev(sys.argv[1]), ev(sys.argv[2])
print(f"grpo learning, separate rollout rank vs colocated: held-out exact match {b[0]:.2f} -> {b[-1]:.2f} vs {a[0]:.2f} -> {a[-1]:.2f}")
assert b[-1] >= b[0] + 0.05 and abs(b[-1] - a[-1]) <= 0.06, (a, b)
PY
fi
# Without an MPI launch, separate rollout ranks are refused (not run colocated).
if "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set algorithm.grpo.rollout_ranks=1 --set run.name=nompi > "$tmp/nompi.log" 2>&1; then
  fail "rollout_ranks without mpirun was accepted"
fi
grep -q "rollout_ranks = 1 needs an MPI launch with at least 2 ranks" "$tmp/nompi.log" || { cat "$tmp/nompi.log"; fail "rollout_ranks message"; }
end_test
