#!/usr/bin/env bash
# Asynchronous GRPO (algorithm.grpo.max_staleness) on rollout ranks, on the quickstart-SFT'd tiny model:
#  - K = 0 is the synchronous run: per-step rewards identical to colocated training with as many
#    training ranks (1 + 1 and 3 + 1 ranks here; grpo.sh checks 2 + 1 and 2 + 2), losses to 1e-5
#  - K = 1 (1 + 1 ranks) run twice, and K = 2 (2 + 1) straight and killed by SIGKILL in step 6 then
#    resumed from step 4 (the batches in flight come from the checkpoint): identical per-step rewards
#    and losses; staleness reported per step is exactly min(step, K); SIGTERM in step 5 (requeue)
#    checkpoints the batches in flight and the resumed run is identical too
#  - partial rollouts: K = 2 (segments of 5 tokens) killed by SIGKILL in step 6 and resumed from step 4,
#    whose checkpoint holds partial completions, = the straight run; K = 3 on 2 rollout ranks run twice:
#    identical; the token staleness falls between the batch's oldest and newest weights
#  - a multi-turn environment (guess_number) at K = 1 run twice: identical rewards and turns
#  - off-policy correction: at K = 0 the weights are 1 (the engine's log-probs are the trainer's);
#    at K = 2 the stale steps' weights spread (max > 1, effective sample size < 1), token_mask at a
#    tight bound drops tokens, and the run still learns
#  - a rollout worker that hangs stops the job with exit 86 after parallel.timeout_s, naming it
#  - without rollout ranks max_staleness is refused, naming the mpirun launch
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
recipe=examples/grpo/recipe.yaml
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set trainer.micro_batch_tokens=256)

"$POSTTRAIN" validate "$recipe" --set algorithm.grpo.max_staleness=1 > "$tmp/refuse.log" 2>&1 && fail "max_staleness without rollout ranks was accepted"
grep -q "max_staleness.*rollout_ranks: 1.*mpirun -np 2" "$tmp/refuse.log" || { cat "$tmp/refuse.log"; fail "refusal does not name the launch"; }
echo "max_staleness without rollout ranks: refused by validate ($(grep -o 'needs ranks that only generate' "$tmp/refuse.log"))"
"$POSTTRAIN" validate "$recipe" --set algorithm.grpo.rollout_ranks=1 --set algorithm.grpo.max_staleness=1 \
  --set algorithm.grpo.partial_rollouts=true > "$tmp/refuse.log" 2>&1 && fail "partial rollouts at K = 1 were accepted"
grep -q "partial_rollouts.*with max_staleness 1 every batch must be whole by the next step" "$tmp/refuse.log" ||
  { cat "$tmp/refuse.log"; fail "no reason for refusing partial rollouts at K = 1"; }
"$POSTTRAIN" validate "$recipe" --set algorithm.grpo.rollout_ranks=1 --set algorithm.grpo.max_staleness=2 \
  --set algorithm.grpo.partial_rollouts=true --set algorithm.grpo.environment.name=guess_number \
  --set "algorithm.grpo.rewards=[]" > "$tmp/refuse.log" 2>&1 && fail "partial rollouts of multi-turn episodes were accepted"
grep -q "partial rollouts continue single-turn completions; environment 'guess_number'" "$tmp/refuse.log" ||
  { cat "$tmp/refuse.log"; fail "no reason for refusing partial multi-turn rollouts"; }
echo "partial_rollouts: refused at K = 1 and with a multi-turn environment, with the reason"
if ! have_mpi "asynchronous GRPO on rollout ranks"; then end_test; fi

sft_base base 80
run() {  # NAME RANKS ARGS...
  local name="$1" np="$2"; shift 2
  if [ "$np" = 1 ]; then
    "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "$@" --set run.name="$name" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name"; }
  else
    timeout 600 mpirun --allow-run-as-root --oversubscribe -np "$np" "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "$@" \
      --set run.name="$name" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name"; }
  fi
}
same() {  # A B KEYS... : identical per-step values
  local a="$1" b="$2" k; shift 2
  for k in "$@"; do
    [ "$(col "$tmp/$a/metrics.jsonl" "$k")" = "$(col "$tmp/$b/metrics.jsonl" "$k")" ] || fail "$a vs $b: $k differs:\n$(col "$tmp/$a/metrics.jsonl" "$k")\n$(col "$tmp/$b/metrics.jsonl" "$k")"
  done
}
close() {  # A B : identical rewards, losses to 1e-5
  "$PT_PYTHON" - "$tmp/$1/metrics.jsonl" "$tmp/$2/metrics.jsonl" "$2 vs $1" <<'PY'
import json, sys
def cols(f, k):
    return [json.loads(l)[k] for l in open(f) if f'"{k}"' in l and "eval/" not in l]
a, b = cols(sys.argv[1], "reward"), cols(sys.argv[2], "reward")
worst = max(abs(x - y) for x, y in zip(cols(sys.argv[1], "loss"), cols(sys.argv[2], "loss")))
assert a == b and len(a) == 8, (a, b)
assert worst < 1e-5, worst
print(f"{sys.argv[3]}: per-step rewards identical, max |loss diff| {worst:.1e}")
PY
}
killed_in_6() {  # NAME ARGS... : 3 ranks, SIGKILL inside step 6 (the run must not exit 0)
  local name="$1" rc; shift
  set +e
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 3 -x POSTTRAIN_FAULT=kill_in_step:6 "$POSTTRAIN" run "$recipe" \
    "${common[@]}" "${short[@]}" "$@" --set run.name="$name" > "$tmp/$name.log" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || { cat "$tmp/$name.log"; fail "the killed run $name exited 0"; }
}
resumed() {  # NAME ARGS... : the killed run resumed to the end, its 2 batches in flight restored
  local name="$1"; shift
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 3 "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "$@" \
    --set run.name="$name" > "$tmp/${name}2.log" 2>&1 || { cat "$tmp/${name}2.log"; fail "$name: resume"; }
  grep -q "rollout queue: 2 batch(es) in flight restored" "$tmp/${name}2.log" || { cat "$tmp/${name}2.log"; fail "$name: the batches in flight were not restored"; }
}
sep=(--set algorithm.grpo.rollout_ranks=1)

# K = 0: the synchronous run.
run colo1 1
run k0 2 "${sep[@]}" --set algorithm.grpo.max_staleness=0
close colo1 k0
run colo3 3 --set trainer.global_batch_tokens=768
run k0-3 4 "${sep[@]}" --set trainer.global_batch_tokens=768
close colo3 k0-3

# A rollout worker that hangs in its third batch (K = 1): training rank 0's wait for its results has the
# run's deadline (parallel.timeout_s), so the job stops with exit 86 naming the worker, not forever; the
# checkpoint written before stays complete.
start=$(date +%s)
set +e
POSTTRAIN_FAULT=hang_in_rollout:3 POSTTRAIN_FAULT_RANK=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 \
  "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "${sep[@]}" --set algorithm.grpo.max_staleness=1 \
  --set checkpoint.every=1 --set parallel.timeout_s=5 --set run.name=hung > "$tmp/hung.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
[ "$rc" -eq 86 ] && [ "$took" -le 60 ] || { cat "$tmp/hung.log"; fail "hung rollout worker: rc $rc after $took s (expected 86)"; }
grep -q "the results of step .* from rollout worker 0 (global rank 1) did not complete within 5 s (parallel.timeout_s)" "$tmp/hung.log" ||
  { cat "$tmp/hung.log"; fail "no deadline message naming the worker"; }
ls "$tmp/hung/checkpoints/step-00000001/DONE" > /dev/null || fail "the checkpoint before the hang is not complete"
echo "rollout worker hung in batch 3: the job exited 86 after ${took}s: $(grep -o 'the results of step [0-9]* from rollout worker 0' "$tmp/hung.log")"

# K = 1 twice; K = 2 straight and SIGKILL + resume.
run k1a 2 "${sep[@]}" --set algorithm.grpo.max_staleness=1
run k1b 2 "${sep[@]}" --set algorithm.grpo.max_staleness=1
same k1a k1b reward loss staleness
[ "$(col "$tmp/k1a/metrics.jsonl" staleness)" = "0.0 1.0 1.0 1.0 1.0 1.0 1.0 1.0" ] || fail "K = 1 staleness: $(col "$tmp/k1a/metrics.jsonl" staleness)"
echo "K = 1, two runs: identical per-step rewards $(col "$tmp/k1a/metrics.jsonl" reward)"
k2=("${sep[@]}" --set algorithm.grpo.max_staleness=2)
run k2a 3 "${k2[@]}"
killed_in_6 k2b "${k2[@]}"
ls "$tmp"/k2b/checkpoints/step-00000004/algorithm/rollouts_step*.bin > /dev/null || fail "the step-4 checkpoint holds no rollouts in flight"
resumed k2b "${k2[@]}"
grep -q "resumed from .*step-00000004 at step 4" "$tmp/k2b2.log" || { cat "$tmp/k2b2.log"; fail "did not resume from step 4"; }
same k2a k2b reward loss staleness
[ "$(col "$tmp/k2a/metrics.jsonl" staleness)" = "0.0 1.0 2.0 2.0 2.0 2.0 2.0 2.0" ] || fail "K = 2 staleness: $(col "$tmp/k2a/metrics.jsonl" staleness)"
echo "K = 2 (2 trainers + 1 rollout rank), SIGKILL in step 6 + resume from step 4: identical per-step rewards $(col "$tmp/k2a/metrics.jsonl" reward) and losses"

# SIGTERM in step 5 (the scheduler's stop): a checkpoint at step 5 holding the 2 batches in flight
# (the workers ignore the signal and serve the drain), exit for requeue, then a resume to the end.
set +e
timeout 600 mpirun --allow-run-as-root --oversubscribe -np 3 -x POSTTRAIN_FAULT=term_in_step:5 "$POSTTRAIN" run "$recipe" "${common[@]}" \
  "${short[@]}" "${k2[@]}" --set run.name=k2t > "$tmp/k2t.log" 2>&1
rc=$?
set -e
grep -q "signal 15 received: checkpointing at step 5" "$tmp/k2t.log" || { cat "$tmp/k2t.log"; fail "SIGTERM did not checkpoint at step 5 (exit $rc)"; }
timeout 600 mpirun --allow-run-as-root --oversubscribe -np 3 "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "${k2[@]}" \
  --set run.name=k2t > "$tmp/k2t2.log" 2>&1 || { cat "$tmp/k2t2.log"; fail "K = 2 resume after SIGTERM"; }
grep -q "rollout queue: 2 batch(es) in flight restored" "$tmp/k2t2.log" || { cat "$tmp/k2t2.log"; fail "the batches in flight were not restored after SIGTERM"; }
same k2a k2t reward loss staleness
echo "K = 2, SIGTERM in step 5: checkpoint with 2 batches in flight, exit $rc, resume: identical per-step rewards and losses"

# Partial rollouts: K = 2 (2 trainers + 1 rollout rank; max_new_tokens 10 in segments of 5), SIGKILL in
# step 6 + resume from step 4, whose checkpoint holds the partial completions; K = 3 (1 trainer + 2
# rollout ranks; 12 tokens in segments of 4), twice.
pr=("${k2[@]}" --set algorithm.grpo.partial_rollouts=true)
run p2a 3 "${pr[@]}"
killed_in_6 p2b "${pr[@]}"
grep -q '"partial": true' "$tmp/p2b/checkpoints/step-00000004/algorithm/rollout_queue.json" ||
  fail "the step-4 checkpoint holds no partial completions: $(cat "$tmp/p2b/checkpoints/step-00000004/algorithm/rollout_queue.json")"
resumed p2b "${pr[@]}"
same p2a p2b reward loss staleness staleness_token_mean completion_length
p3=("${sep[@]}" --set algorithm.grpo.rollout_ranks=2 --set algorithm.grpo.max_staleness=3 --set algorithm.grpo.partial_rollouts=true
    --set algorithm.grpo.max_new_tokens=12)
run p3a 3 "${p3[@]}"
run p3b 3 "${p3[@]}"
same p3a p3b reward loss staleness staleness_token_mean completion_length
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
def rows(name):
    return [json.loads(l) for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl") if '"reward"' in l and "eval/" not in l]
for name, k in (("p2a", 2), ("p3a", 3)):
    r = rows(name)
    oldest = [x["staleness"] for x in r]
    tokens = [x["staleness_token_mean"] for x in r]
    assert oldest == [float(min(s, k)) for s in range(8)], oldest
    # Batches due before step K are generated whole with version 0; later ones span K versions: their
    # tokens' mean staleness lies between 1 (the last segment's) and K (the first's).
    assert tokens[:2] == [0.0, 1.0], tokens
    assert all(1.0 <= t <= k for t in tokens[k:]) and min(tokens[k:]) < k, tokens
    print(f"partial rollouts K = {k}: staleness of the oldest tokens {oldest}, token mean", [round(t, 3) for t in tokens])
k2, p2 = rows("k2a"), rows("p2a")
print("logprob drift (|trainer - sampler| per token) K = 2 whole / partial:",
      round(sum(r["logprob_mismatch"] for r in k2) / 8, 4), "/", round(sum(r["logprob_mismatch"] for r in p2) / 8, 4))
PY
echo "partial rollouts: K = 2 SIGKILL + resume (partial completions restored) and K = 3 on 2 rollout ranks twice: identical per-step rewards and losses"

# A multi-turn environment at K = 1, twice.
game=(--set algorithm.grpo.environment.name=guess_number --set algorithm.grpo.environment.low=1
      --set algorithm.grpo.environment.high=9 --set algorithm.grpo.environment.max_turns=3
      --set algorithm.grpo.environment.max_episode_tokens=200 --set "algorithm.grpo.rewards=[]"
      --set algorithm.grpo.max_new_tokens=6 --set trainer.global_batch_tokens=256)
run game-a 2 "${sep[@]}" --set algorithm.grpo.max_staleness=1 "${game[@]}"
run game-b 2 "${sep[@]}" --set algorithm.grpo.max_staleness=1 "${game[@]}"
same game-a game-b reward loss episode/turns
echo "guess_number at K = 1, two runs: identical rewards and turns $(col "$tmp/game-a/metrics.jsonl" episode/turns)"

# Off-policy correction.
run k0c 2 "${sep[@]}" --set algorithm.grpo.rollout_correction.mode=token_truncate
run k2c 3 "${k2[@]}" --set algorithm.grpo.rollout_correction.mode=token_truncate
run k2m 3 "${k2[@]}" --set algorithm.grpo.rollout_correction.mode=token_mask --set algorithm.grpo.rollout_correction.clip_max=1.2
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
sys.path.insert(0, "tests/integration/lib")
from rollout_agreement import agreeing_steps, max_diff_while_agreeing
def rows(name):
    return [json.loads(l) for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl") if '"reward"' in l and "eval/" not in l]
k0, k0c, k2, k2c, k2m = (rows(n) for n in ("k0", "k0c", "k2a", "k2c", "k2m"))
# K = 0: the engine's log-probs are the trainer's: every weight 1, the loss unchanged.
ess0 = [r["rollout_correction/ess"] for r in k0c]
wmax0 = [r["rollout_correction/weight_max"] for r in k0c]
# Weights of 1 +- 1e-5 change the updates in the last bits (lib/rollout_agreement.py).
agree = agreeing_steps(k0, k0c)
loss_diff = max_diff_while_agreeing(k0, k0c, "loss", agree)
assert min(ess0) > 0.99999 and max(abs(w - 1) for w in wmax0) < 1e-4, (ess0, wmax0)
assert [r["reward"] for r in k0][:agree] == [r["reward"] for r in k0c][:agree], (k0, k0c)
assert loss_diff < 1e-6, (agree, loss_diff)
print(f"K = 0 with token_truncate: weights 1 (ess min {min(ess0):.6f}, max weight {max(wmax0):.6f}); completions agree "
      f"for {agree} of {len(k0)} steps, losses there within {loss_diff:.1e} of the uncorrected run")
# K = 2: no correction metrics without a mode; with one, the stale steps' weights spread.
assert "rollout_correction/ess" not in k2[0]
stale = [r for r in k2c if r["staleness"] > 0]
assert k2c[0]["rollout_correction/ess"] > 0.99999
assert max(r["rollout_correction/weight_max"] for r in stale) > 1.05, [r["rollout_correction/weight_max"] for r in stale]
assert min(r["rollout_correction/ess"] for r in stale) < 0.999
assert all(abs(r["rollout_correction/weight_mean"] - 1) < 0.2 for r in stale)
masked = [r["rollout_correction/masked_fraction"] for r in k2m]
assert masked[0] == 0 and max(masked) > 0, masked
print("K = 2 token_truncate: weight max per step", [round(r["rollout_correction/weight_max"], 3) for r in k2c],
      "ess", [round(r["rollout_correction/ess"], 4) for r in k2c])
print("K = 2 token_mask (clip_max 1.2): masked fraction per step", [round(m, 4) for m in masked])
print("logprob drift (|trainer - sampler| per token) K = 0 / K = 2:", round(sum(r["logprob_mismatch"] for r in k0) / 8, 4),
      "/", round(sum(r["logprob_mismatch"] for r in k2) / 8, 4))
PY
end_test
