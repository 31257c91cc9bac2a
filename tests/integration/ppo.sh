#!/usr/bin/env bash
# PPO (advantage gae with a learned critic) through the RL loop, CPU, on the quickstart reversal task
# from a short SFT base, against GRPO (advantage group) in the same script:
#  - PPO raises held-out greedy exact match (both curves printed, with the critic's value loss)
#  - the critic is exported as a *ForTokenClassification (num_labels 1) whose values transformers
#    reproduces (verify-model against transformers' logits), and a run can start from it (critic.path)
#  - critic warm-up: the first warmup_steps batches train only the critic (no policy loss, lr 0)
#  - exact resume after SIGKILL: policy, critic and both optimizers (reward, losses, values identical)
#  - the critic as a value head on the policy (critic.model: policy): learns, exported beside the
#    policy with values transformers reproduces, kept by a run from the export, exact resume
#  - recipe-only refusals at validation with the key's location
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
recipe=examples/grpo/recipe.yaml
ppo=(--set algorithm.grpo.advantage=gae --set algorithm.grpo.critic.lr=1e-4 --set algorithm.grpo.dual_clip=3)
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set trainer.max_steps=30 --set trainer.eval.every=15 --set logging.every=1)
rl_learn grpo
rl_learn ppo "${ppo[@]}"

# The critic's export: transformers loads it as a token classifier and computes our values.
[ -f "$tmp/ppo/critic/config.json" ] || fail "no critic export"
grep -q '"ForTokenClassification\|TokenClassification"' "$tmp/ppo/critic/config.json" || fail "critic export is not a token classifier"
parity "critic export" "$tmp/ppo/critic"
# ... and a new run starts from it (its value head is kept, not re-created).
"$POSTTRAIN" run "$recipe" "${common[@]}" "${ppo[@]}" --set run.name=from-critic --set trainer.max_steps=2 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false \
  --set algorithm.grpo.critic.path="$tmp/ppo/critic" > "$tmp/from-critic.log" 2>&1 || { cat "$tmp/from-critic.log"; fail "critic.path"; }
"$PT_PYTHON" - "$tmp/ppo/metrics.jsonl" "$tmp/from-critic/metrics.jsonl" <<'PY'
import json, sys
first = lambda p: [json.loads(l) for l in open(p) if "critic/value_loss" in l][0]["critic/value_loss"]
fresh, trained = first(sys.argv[1]), first(sys.argv[2])
print(f"critic.path: first-step value loss {trained:.4f} from the trained critic vs {fresh:.4f} from a new head")
assert trained < fresh, (trained, fresh)
PY

# Critic warm-up: two batches train only the critic.
"$POSTTRAIN" run "$recipe" "${common[@]}" "${ppo[@]}" --set run.name=warm --set trainer.max_steps=4 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false \
  --set algorithm.grpo.critic.warmup_steps=2 > "$tmp/warm.log" 2>&1 || { cat "$tmp/warm.log"; fail "warm-up run"; }
"$PT_PYTHON" - "$tmp/warm/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step"' in l and "eval/" not in l]
assert [r["step"] for r in rows] == [1, 2, 3, 4], rows
assert all("loss" not in r and r["lr"] == 0 and "critic/value_loss" in r for r in rows[:2]), rows[:2]
assert all("loss" in r and r["lr"] > 0 for r in rows[2:]), rows[2:]
print("critic warm-up: steps 1-2 train the critic only (no policy loss, lr 0), steps 3-4 both")
PY

resume_check ppo-resume "$recipe" reward,loss,critic/value_loss,critic/values --set run.output_dir="$tmp" \
  --set model.path="$tmp/base/model" "${ppo[@]}"

# The critic as a value head on the policy (critic.model=policy): one backbone, value loss x value_coef
# in the policy's loss. It learns like the separate critic; its head is exported beside the policy
# (value_head.safetensors) with values transformers reproduces from its final hidden states; a run
# from that export keeps the trained head; it resumes exactly after SIGKILL (head inside the policy's state).
shared=(--set algorithm.grpo.advantage=gae --set algorithm.grpo.critic.model=policy --set algorithm.grpo.dual_clip=3)
rl_learn ppo-shared "${shared[@]}"
[ -f "$tmp/ppo-shared/model/value_head.safetensors" ] && [ -f "$tmp/ppo-shared/model/value_head.json" ] || fail "no value head export"
parity "value head on the policy" "$tmp/ppo-shared/model"
grep -q "value head diff" "$tmp/v.txt" || fail "verify-model did not check the value head"
"$POSTTRAIN" run "$recipe" "${common[@]}" "${shared[@]}" --set run.name=from-head --set trainer.max_steps=1 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false \
  --set model.path="$tmp/ppo-shared/model" > "$tmp/from-head.log" 2>&1 || { cat "$tmp/from-head.log"; fail "from the value head export"; }
"$PT_PYTHON" - "$tmp/ppo-shared/metrics.jsonl" "$tmp/from-head/metrics.jsonl" <<'PY'
import json, sys
first = lambda p: [json.loads(l) for l in open(p) if "critic/value_loss" in l][0]
fresh, trained = first(sys.argv[1]), first(sys.argv[2])
print(f"value head export: first-step value loss {trained['critic/value_loss']:.4f} from the trained head vs "
      f"{fresh['critic/value_loss']:.4f} from a new one; mean value {trained['critic/values']:.3f} vs {fresh['critic/values']:.3f}")
# A new head (std 0.02) values every state near 0; the trained one near the success rate it learned.
assert trained["critic/values"] > 0.1 and abs(fresh["critic/values"]) < 0.05, (trained, fresh)
PY
resume_check ppo-shared-resume "$recipe" reward,loss,critic/value_loss,critic/values --set run.output_dir="$tmp" \
  --set model.path="$tmp/base/model" "${shared[@]}"

# Ranks: 1 trainer + 1 rollout rank draws the 1-rank run's rollouts, so its rewards, policy losses and
# critic numbers match; 2 colocated ranks split the prompts (critic gradients summed over them).
if have_mpi "multi-rank PPO"; then
  ranks=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" "${ppo[@]}" "${short[@]}" --set trainer.micro_batch_tokens=256)
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" "${ranks[@]}" \
    --set algorithm.grpo.rollout_ranks=1 --set run.name=sep2 > "$tmp/sep2.log" 2>&1 || { cat "$tmp/sep2.log"; fail "PPO with a rollout rank"; }
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" "${ranks[@]}" \
    --set run.name=dp2 > "$tmp/dp2.log" 2>&1 || { cat "$tmp/dp2.log"; fail "PPO on 2 ranks"; }
  # The value head on the policy: its gradients go with the policy's (summed over the 2 ranks).
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" --set run.output_dir="$tmp" \
    --set model.path="$tmp/base/model" "${shared[@]}" "${short[@]}" --set trainer.micro_batch_tokens=256 \
    --set run.name=dp2-shared > "$tmp/dp2-shared.log" 2>&1 || { cat "$tmp/dp2-shared.log"; fail "PPO with the value head on 2 ranks"; }
  "$PT_PYTHON" - "$tmp/ppo-shared-resume-a/metrics.jsonl" "$tmp/dp2-shared/metrics.jsonl" <<'PY'
import json, sys
sys.path.insert(0, "tests/integration/lib")
from rollout_agreement import agreeing_steps, max_diff_while_agreeing
rows = lambda f: [json.loads(l) for l in open(f) if '"reward"' in l and "eval/" not in l]
one, two = rows(sys.argv[1]), rows(sys.argv[2])
agree = agreeing_steps(one, two)
for k in ("reward", "loss", "critic/value_loss", "critic/values"):
    worst = max_diff_while_agreeing(one, two, k, agree)
    print(f"ppo with the value head, 2 ranks vs 1: max |{k} diff| {worst:.1e} over the {agree} steps whose completions agree")
    assert worst < 1e-5, (k, worst)
PY
  "$PT_PYTHON" - "$tmp/ppo-resume-a/metrics.jsonl" "$tmp/sep2/metrics.jsonl" "$tmp/dp2/metrics.jsonl" <<'PY'
import json, sys
def cols(f, k):
    return [json.loads(l)[k] for l in open(f) if f'"{k}"' in l and "eval/" not in l]
one, sep, dp = sys.argv[1:4]
assert cols(one, "reward") == cols(sep, "reward") and len(cols(one, "reward")) == 8
for k in ("loss", "critic/value_loss", "critic/values"):
    worst = max(abs(x - y) for x, y in zip(cols(one, k), cols(sep, k)))
    print(f"ppo, 1 trainer + 1 rollout rank vs 1 rank: max |{k} diff| {worst:.2e} (rewards identical)")
    assert worst < 1e-5, (k, cols(one, k), cols(sep, k))
a, b = cols(one, "reward"), cols(dp, "reward")
print(f"ppo on 2 colocated ranks vs 1: per-step sampled rewards {b} vs {a}")
assert len(b) == 8 and abs(sum(a) - sum(b)) / 8 < 0.05, (a, b)
PY
fi

refused() {  # refused "message" --set ...: run --dry-run refuses with the message and a recipe location
  local msg="$1"; shift
  if "$POSTTRAIN" run "$recipe" --dry-run "$@" > "$tmp/out" 2>&1; then cat "$tmp/out"; fail "accepted: $*"; fi
  grep -q "$msg" "$tmp/out" || { cat "$tmp/out"; fail "expected '$msg'"; }
  grep -qE "(recipe.yaml:[0-9]+|--set)" "$tmp/out" || { cat "$tmp/out"; fail "no location in: $(cat "$tmp/out")"; }
}
refused "group_size must be at least 2" --set algorithm.grpo.group_size=1
refused "only allowed when advantage is gae" --set algorithm.grpo.critic.lr=1e-4
refused "gamma and lam are GAE's" --set algorithm.grpo.lam=0.9
refused "dynamic_sampling drops groups" "${ppo[@]}" --set algorithm.grpo.dynamic_sampling=true
refused "critic.lr is the separate critic model's" "${shared[@]}" --set algorithm.grpo.critic.lr=1e-4
refused "cannot train without moving the policy" "${shared[@]}" --set algorithm.grpo.critic.warmup_steps=2
refused "value_coef weighs the value loss" "${ppo[@]}" --set algorithm.grpo.critic.value_coef=0.5
refused "model.lora freezes them" "${shared[@]}" --set "model.lora={rank: 4}"
refused "needs at least 2 classes" --set model.head.type=token_classification --set model.head.num_labels=1
echo "ppo ok"
end_test
