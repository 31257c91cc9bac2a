#!/usr/bin/env bash
# The critic-free advantage estimators and CISPO through the GRPO loop (CPU, quickstart reversal task
# from a short SFT base), each against the group (GRPO) baseline in the same script:
#  - advantage rloo, reinforce_pp, reinforce_pp_baseline and loss cispo (2 epochs per rollout batch,
#    so importance weights move off 1 and the cap engages) each raise held-out greedy exact match
#  - loss cispo's first update equals the clipped surrogate's (ratio 1: the same gradient) — the
#    per-step losses of one epoch are identical
#  - the KL as a per-token reward (kl_in_reward, k1) with reinforce_pp learns too
#  - exact resume after SIGKILL with reinforce_pp (its batch-wide whitening), with cispo, and with
#    reinforce_pp_baseline + KL in the reward (the reference's log-probs shape the rewards)
#  - recipe-only refusals at validation, with the key's location: scale_rewards with a non-group
#    estimator, epsilon under cispo, a cispo cap not above 1
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
recipe=examples/grpo/recipe.yaml
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set trainer.max_steps=30 --set trainer.eval.every=15)
rl_learn group
# (the rewards of one rollout batch are logged once; cispo's two epochs make two optimizer steps of each)
rl_learn rloo --set algorithm.grpo.advantage=rloo
rl_learn reinforce_pp --set algorithm.grpo.advantage=reinforce_pp
rl_learn reinforce_pp_baseline --set algorithm.grpo.advantage=reinforce_pp_baseline
# The KL as a per-token reward (k1, beta 0.05, frozen reference) instead of a loss term.
rl_learn reinforce_pp_kl --set algorithm.grpo.advantage=reinforce_pp --set algorithm.grpo.beta=0.05 --set algorithm.grpo.kl_in_reward=true
"$PT_PYTHON" -c 'import json,sys; k=[json.loads(l)["kl"] for l in open(sys.argv[1]) if "\"kl\"" in l and "eval/" not in l]; print(f"reinforce_pp, KL in the reward: k1 per token {k[0]:.2e} -> {k[-1]:.2e}"); assert len(k) >= 3 and k[-1] > 0, k' "$tmp/reinforce_pp_kl/metrics.jsonl"
rl_learn cispo --set algorithm.grpo.loss=cispo --set algorithm.grpo.epsilon_high=1.1 --set algorithm.grpo.epochs=2
"$PT_PYTHON" -c 'import json,sys; c=[json.loads(l)["clip_fraction"] for l in open(sys.argv[1]) if "clip_fraction" in l]; print(f"cispo: weights capped on {max(c):.3f} of tokens at most"); assert max(c) > 0, c' "$tmp/cispo/metrics.jsonl"

# On-policy (one epoch), CISPO's gradient is the clipped surrogate's: the same run, step for step.
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=cispo1 --set algorithm.grpo.loss=cispo --set algorithm.grpo.epsilon_high=5 \
  > "$tmp/cispo1.log" 2>&1 || { cat "$tmp/cispo1.log"; fail "cispo one epoch"; }
"$PT_PYTHON" - unused "$tmp/cispo1/metrics.jsonl" "$tmp/group/metrics.jsonl" <<'PY' || fail "cispo on-policy"
import json, sys
rw = lambda p: [json.loads(l).get("reward") for l in open(p) if '"reward"' in l and "eval/" not in l]
a, b = rw(sys.argv[3]), rw(sys.argv[2])
assert a == b, (a, b)
print(f"cispo, one epoch: {len(a)} per-step rewards identical to the clipped surrogate's")
PY

resume_check rpp-resume "$recipe" reward,loss --set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set algorithm.grpo.advantage=reinforce_pp
resume_check cispo-resume "$recipe" loss,clip_fraction --set run.output_dir="$tmp" --set model.path="$tmp/base/model" \
  --set algorithm.grpo.loss=cispo --set algorithm.grpo.epsilon_high=1.1 --set algorithm.grpo.epochs=2

resume_check rppb-kl-resume "$recipe" reward,loss,kl --set run.output_dir="$tmp" --set model.path="$tmp/base/model" \
  --set algorithm.grpo.advantage=reinforce_pp_baseline --set algorithm.grpo.beta=0.05 --set algorithm.grpo.kl_in_reward=true

refused() {  # refused "message" --set ...: run --dry-run refuses with the message and a recipe location
  local msg="$1"; shift
  if "$POSTTRAIN" run "$recipe" --dry-run "$@" > "$tmp/out" 2>&1; then cat "$tmp/out"; fail "accepted: $*"; fi
  grep -q "$msg" "$tmp/out" || { cat "$tmp/out"; fail "expected '$msg'"; }
  grep -qE "(recipe.yaml:[0-9]+|--set)" "$tmp/out" || { cat "$tmp/out"; fail "no location in: $(cat "$tmp/out")"; }
}
refused "scale_rewards applies to advantage group only" --set algorithm.grpo.advantage=rloo --set algorithm.grpo.scale_rewards=none
refused "loss cispo has no lower clip" --set algorithm.grpo.loss=cispo --set algorithm.grpo.epsilon=0.1 --set algorithm.grpo.epsilon_high=5
refused "which is not above 1" --set algorithm.grpo.loss=cispo
refused "beta is 0" --set algorithm.grpo.advantage=reinforce_pp --set algorithm.grpo.kl_in_reward=true
refused "kl_in_reward shapes per-token returns" --set algorithm.grpo.beta=0.05 --set algorithm.grpo.kl_in_reward=true
echo "grpo estimators ok"
