#!/usr/bin/env bash
# RL episodes in environments (CPU, the quickstart model after a short SFT):
#  - guess_number (multi-turn, user feedback): episodes of several turns run through GRPO; per-stage
#    metrics (turns, length, stop reasons, environment reward and time) are reported; the stop
#    reasons of a step add up to 1
#  - exact resume after SIGKILL inside a step with the multi-turn environment: identical per-step
#    rewards and losses
#  - calculator (tools): runs, with tool-call metrics
#  - a chat template that rewrites earlier turns is refused at start-up, naming it and the position
#  - environment options the chosen environment does not read, and multi-turn with rollout_ranks,
#    are refused by validate; `posttrain list environment` lists the built-ins
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
recipe=examples/grpo/recipe.yaml
game=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set algorithm.grpo.environment.name=guess_number
      --set algorithm.grpo.environment.low=1 --set algorithm.grpo.environment.high=9
      --set algorithm.grpo.environment.max_turns=3 --set algorithm.grpo.environment.max_episode_tokens=200
      --set "algorithm.grpo.rewards=[]" --set algorithm.grpo.max_new_tokens=6 --set trainer.global_batch_tokens=256 --set trainer.micro_batch_tokens=256)

"$POSTTRAIN" run "$recipe" "${game[@]}" "${short[@]}" --set run.name=game > "$tmp/game.log" 2>&1 || { cat "$tmp/game.log"; fail "guess_number run"; }
"$PT_PYTHON" - "$tmp/game/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if "episode/turns" in l and "eval/" not in l]
assert len(rows) == 8, len(rows)
for r in rows:
    stops = sum(r[f"episode/stop_{k}"] for k in ("done", "max_turns", "budget", "env_error"))
    assert abs(stops - 1) < 1e-9, (r["step"], stops)
    assert 1 <= r["episode/turns"] <= 3, r["episode/turns"]
    assert r["episode/length"] > r["completion_length"], r  # environment tokens are in the episode, not trained
    for k in ("rewards/environment", "time/env_s", "episode/tool_calls_ok", "reward"):
        assert k in r, k
turns = [r["episode/turns"] for r in rows]
print("guess_number: turns per episode " + ", ".join(f"{t:.2f}" for t in turns) +
      "; reward " + ", ".join(f"{r['reward']:.3f}" for r in rows))
assert max(turns) > 1.2, turns
PY

resume_check game-resume "$recipe" reward,loss,episode/turns "${game[@]}"

# Tools: the calculator environment on the reversal prompts (a number answer; the model calls no tools).
"$POSTTRAIN" run "$recipe" --set run.output_dir="$tmp" --set model.path="$tmp/base/model" "${short[@]}" \
  --set trainer.max_steps=2 --set algorithm.grpo.environment.name=calculator --set algorithm.grpo.environment.max_turns=2 \
  --set run.name=calc > "$tmp/calc.log" 2>&1 || { cat "$tmp/calc.log"; fail "calculator run"; }
[ -n "$(col "$tmp/calc/metrics.jsonl" episode/tool_calls_failed)" ] || fail "calculator: no tool-call metrics"

# A template that drops earlier assistant turns is refused before training, named, with the position.
cat > "$tmp/rewrite.jinja" <<'J'
{% for m in messages %}{% if m['role'] != 'assistant' or loop.last %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
J
set +e
"$POSTTRAIN" run "$recipe" "${game[@]}" "${short[@]}" --set tokenizer.chat_template="$tmp/rewrite.jinja" --set run.name=rw > "$tmp/rw.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a rewriting template was accepted"
grep -q "rewrite.jinja' of .* is not append-only: .* token [0-9]" "$tmp/rw.log" || { cat "$tmp/rw.log"; fail "rewrite message"; }
[ ! -d "$tmp/rw/checkpoints" ] || [ -z "$(ls "$tmp/rw/checkpoints")" ] || fail "rewrite: checkpoints written"

# Refusals from the recipe alone.
refused() {  # PATTERN ARGS...
  local pattern="$1"; shift
  if "$POSTTRAIN" validate "$recipe" "$@" > "$tmp/v.log" 2>&1; then fail "validate accepted: $*"; fi
  grep -q "$pattern" "$tmp/v.log" || { cat "$tmp/v.log"; fail "validate message for: $*"; }
}
refused "low is only read by environment guess_number" --set algorithm.grpo.environment.name=calculator --set algorithm.grpo.environment.low=3
refused "max_turns is only read by environment" --set algorithm.grpo.environment.max_turns=3
refused "tool_format is only read by environment calculator" --set algorithm.grpo.environment.name=guess_number --set algorithm.grpo.environment.tool_format=hermes
refused "rollout_ranks must be 0" --set algorithm.grpo.environment.name=guess_number --set algorithm.grpo.rollout_ranks=1
refused "GRPO needs at least one reward" --set "algorithm.grpo.rewards=[]"
"$POSTTRAIN" validate "$recipe" "${game[@]}" > /dev/null || fail "validate refused a guess_number recipe with no rewards"
"$POSTTRAIN" list environment | tee "$tmp/list.txt"
for e in single_turn calculator guess_number; do grep -q "$e" "$tmp/list.txt" || fail "list environment: no $e"; done
echo "environments: validate refusals and listing ok"
