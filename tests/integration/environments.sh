#!/usr/bin/env bash
# RL episodes in environments (CPU, the quickstart model after a short SFT):
#  - guess_number (multi-turn, user feedback): episodes of several turns run through GRPO; per-stage
#    metrics (turns, length, stop reasons, environment reward and time) are reported; the stop
#    reasons of a step add up to 1
#  - exact resume after SIGKILL inside a step with the multi-turn environment: identical per-step
#    rewards and losses
#  - calculator (tools): runs, with tool-call metrics
#  - a chat template that rewrites earlier turns is refused at start-up (and by --dry-run), naming it
#    and the position
#  - multi-turn episodes on separate rollout ranks (1 trainer + 2 workers, each worker its own
#    environment — built-in, and the external simulator as a process per worker): the same per-step
#    rewards and turns as the colocated run
#  - tools declared in the recipe (examples/shop: an external `price` tool beside the built-in
#    calculator): calls reach the tool process, which is told when each episode that called it closes
#  - posttrain eval with an environment task (guess_number, the game's own SFT base): greedy episodes
#    give the same mean return, turns and length as the trainer's evaluation of the same games
#  - environment options the chosen environment does not read are refused by validate;
#    `posttrain list environment` lists the built-ins
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

# Tools declared in the recipe: the shop's external price tool (behind a logger) and the built-in calculator.
"$POSTTRAIN" run examples/shop/sft.yaml --set run.output_dir="$tmp" --set trainer.max_steps=150 > "$tmp/shop-sft.log" 2>&1 || { cat "$tmp/shop-sft.log"; fail "shop SFT"; }
cat > "$tmp/logtool.py" <<'PY'
import subprocess, sys
shop = subprocess.Popen([sys.executable, "examples/shop/shop.py"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
log = open(sys.argv[1], "a")
for line in sys.stdin:
    log.write(line); log.flush()
    shop.stdin.write(line); shop.stdin.flush()
    if '"close"' not in line: print(shop.stdout.readline(), end="", flush=True)
PY
"$POSTTRAIN" run examples/shop/recipe.yaml --set run.output_dir="$tmp" --set model.path="$tmp/shop-sft/model" "${short[@]}" \
  --set trainer.max_steps=3 --set "algorithm.grpo.environment.tools[0].command=$PT_PYTHON $tmp/logtool.py $tmp/tool.log" \
  > "$tmp/shop.log" 2>&1 || { cat "$tmp/shop.log"; fail "shop run"; }
"$PT_PYTHON" - "$tmp/shop/metrics.jsonl" "$tmp/tool.log" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if "episode/tool_calls_ok" in l and "eval/" not in l]
msgs = [json.loads(l) for l in open(sys.argv[2])]
calls = [m for m in msgs if m["type"] == "call"]
closed = {m["episode"] for m in msgs if m["type"] == "close"}
ok = sum(r["episode/tool_calls_ok"] for r in rows) * 64  # per episode, 64 episodes a step
assert calls and all(m["tool"] == "price" and "item" in m["arguments"] for m in calls), calls[:3]
assert closed == {m["episode"] for m in calls}, (len(closed), len({m["episode"] for m in calls}))
assert ok > 0 and len(calls) >= round(ok), (ok, len(calls))
print(f"shop (recipe-declared tools): {len(calls)} calls reached the price tool in 3 steps ({ok:.0f} answered, the "
      f"others refused by the tool), {len(closed)} episodes closed; sampled reward " +
      ", ".join(f"{r['reward']:.3f}" for r in rows))
PY

# posttrain eval with an environment: the same games as a GRPO run's evaluation at step 0, same numbers.
"$POSTTRAIN" run examples/guess_number/sft.yaml --set run.output_dir="$tmp" --set trainer.max_steps=60 > "$tmp/gsft.log" 2>&1 || { cat "$tmp/gsft.log"; fail "guess_number SFT"; }
tail -n 40 examples/guess_number/prompts.jsonl > "$tmp/games.jsonl"
"$POSTTRAIN" run examples/guess_number/recipe.yaml --set run.output_dir="$tmp" --set model.path="$tmp/guess-number-sft/model" \
  --set run.name=game-eval --set trainer.max_steps=1 --set trainer.eval.at_start=true --set trainer.eval.every=0 \
  --set trainer.eval.at_end=false --set "data.eval_sources=[{path: $tmp/games.jsonl, format: prompts}]" \
  --set data.eval_fraction=0 > "$tmp/game-eval.log" 2>&1 || { cat "$tmp/game-eval.log"; fail "guess_number eval run"; }
cat > "$tmp/game-tasks.yaml" <<'YAML'
tasks:
  - name: game
    path: games.jsonl
    max_new_tokens: 4
    environment: {name: guess_number, low: 1, high: 9, max_turns: 4, max_episode_tokens: 80}
  - name: game-sampled
    path: games.jsonl
    max_new_tokens: 4
    temperature: 1.0
    samples: 4
    pass_k: [1, 4]
    pass_threshold: 0.1
    environment: {name: guess_number, low: 1, high: 9, max_turns: 4, max_episode_tokens: 80}
YAML
"$POSTTRAIN" eval "$tmp/guess-number-sft/model" --tasks "$tmp/game-tasks.yaml" --output "$tmp/game-tasks.json" > "$tmp/game-tasks.txt" 2>&1 ||
  { cat "$tmp/game-tasks.txt"; fail "posttrain eval with an environment"; }
"$PT_PYTHON" - "$tmp/game-eval/metrics.jsonl" "$tmp/game-tasks.json" <<'PY'
import json, sys
live = [json.loads(l) for l in open(sys.argv[1]) if "eval/reward" in l][0]
res = json.load(open(sys.argv[2]))["tasks"]
g, s = res["game"], res["game-sampled"]
for ours, theirs in (("mean/return", "eval/reward"), ("mean/episode/turns", "eval/episode/turns"),
                     ("mean_tokens", "eval/episode/length"), ("mean/episode/stop_done", "eval/episode/stop_done")):
    assert abs(g[ours] - live[theirs]) < 1e-9, (ours, g[ours], theirs, live[theirs])
c = [x for item in s["completions"] for x in item["completions"]]
assert len(c) == 160 and all(x["stop"] in ("done", "max_turns") and 1 <= x["turns"] <= 4 for x in c)
assert any(x["turns"] > 1 and ("Higher." in x["text"] or "Lower." in x["text"]) for x in c)  # the environment's answers
assert s["pass@4"] >= s["pass@1"] > 0
print(f"posttrain eval, guess_number: greedy return {g['mean/return']:.3f}, turns {g['mean/episode/turns']:.3f} = the "
      f"trainer's evaluation of the same 40 games; sampled pass@1 {s['pass@1']:.3f}, pass@4 {s['pass@4']:.3f}")
PY

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
if "$POSTTRAIN" run "$recipe" "${game[@]}" --set tokenizer.chat_template="$tmp/rewrite.jinja" --dry-run > "$tmp/rwd.log" 2>&1; then
  fail "--dry-run accepted a rewriting template"
fi
grep -q "is not append-only" "$tmp/rwd.log" || { cat "$tmp/rwd.log"; fail "--dry-run rewrite message"; }
"$POSTTRAIN" run "$recipe" "${game[@]}" --dry-run | grep "^episodes   guess_number: 8 per prompt, up to 3 turns" > /dev/null || fail "--dry-run: no episodes line"

# Refusals from the recipe alone.
refused() {  # PATTERN ARGS...
  local pattern="$1"; shift
  if "$POSTTRAIN" validate "$recipe" "$@" > "$tmp/v.log" 2>&1; then fail "validate accepted: $*"; fi
  grep -q "$pattern" "$tmp/v.log" || { cat "$tmp/v.log"; fail "validate message for: $*"; }
}
refused "low is only read by environment guess_number" --set algorithm.grpo.environment.name=calculator --set algorithm.grpo.environment.low=3
refused "max_turns is only read by environment" --set algorithm.grpo.environment.max_turns=3
refused "tool_format is only read by environment calculator" --set algorithm.grpo.environment.name=guess_number --set algorithm.grpo.environment.tool_format=hermes
refused "GRPO needs at least one reward" --set "algorithm.grpo.rewards=[]"
refused "tool 'lookup' has no command and is not a built-in" --set algorithm.grpo.environment.name=tools \
  --set "algorithm.grpo.environment.tools=[{name: calculator}, {name: lookup}]"
refused "tools is only read by environment tools" --set algorithm.grpo.environment.name=calculator \
  --set "algorithm.grpo.environment.tools=[{name: calculator}]"
"$POSTTRAIN" validate "$recipe" "${game[@]}" > /dev/null || fail "validate refused a guess_number recipe with no rewards"
"$POSTTRAIN" list environment | tee "$tmp/list.txt"
for e in single_turn calculator guess_number tools command; do grep -q "$e" "$tmp/list.txt" || fail "list environment: no $e"; done
echo "environments: validate refusals and listing ok"

# The recommender example: GRPO against the external simulated user (Python, JSONL) raises the
# held-out business metric (greedy accepted recommendations per episode, of 3) past a random recommender's.
rec=examples/recommender/recipe.yaml
recargs=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model")
"$POSTTRAIN" run "$rec" "${recargs[@]}" --set run.name=rec > "$tmp/rec.log" 2>&1 || { cat "$tmp/rec.log"; fail "recommender run"; }
"$PT_PYTHON" - "$tmp/rec/metrics.jsonl" <<'PY'
import json, random, sys
sys.path.insert(0, "examples/recommender")
import simulator
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in rows if "eval/reward" in r]
rng, total, n = random.Random(0), 0, 0
for user in range(400):  # the same script's baseline: a recommender that picks items at random
    likes = simulator.tastes(user)
    for _ in range(20):
        shown, acc = set(), 0
        for _ in range(3):
            i = rng.randint(1, 9)
            acc += i not in shown and (i in likes or rng.random() < 0.05)
            shown.add(i)
        total, n = total + acc, n + 1
curve = ", ".join(f"{r['step']}: {r['eval/reward']:.2f}" for r in ev)
print(f"recommender: held-out accepted recommendations per episode {ev[0]['eval/reward']:.2f} -> {ev[-1]['eval/reward']:.2f} "
      f"({curve}); a random recommender: {total / n:.2f}")
assert ev[-1]["eval/reward"] >= ev[0]["eval/reward"] + 0.5, curve
assert ev[-1]["eval/reward"] > total / n, (curve, total / n)
PY
resume_check rec-resume "$rec" reward,loss "${recargs[@]}"
# REINFORCE++ on the same simulator: its per-token returns credit each accepted recommendation to the
# turn that made it (rl::per_token_rewards), not to the episode's last token.
"$POSTTRAIN" run "$rec" "${recargs[@]}" --set run.name=rec-rpp --set algorithm.grpo.advantage=reinforce_pp > "$tmp/rec-rpp.log" 2>&1 || { cat "$tmp/rec-rpp.log"; fail "recommender reinforce_pp run"; }
"$PT_PYTHON" - "$tmp/rec-rpp/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if "eval/reward" in l]
curve = ", ".join(f"{r['step']}: {r['eval/reward']:.2f}" for r in ev)
print(f"recommender, REINFORCE++ with per-turn rewards: held-out accepted recommendations {curve}")
assert ev[-1]["eval/reward"] >= ev[0]["eval/reward"] + 0.5, curve
PY

# An external environment that crashes, hangs past its timeout or prints garbage: a clear error naming
# the environment and the episode, and the last checkpoint intact; under on_error: skip the run
# finishes and counts the dropped episodes.
cat > "$tmp/flaky.py" <<'PY'
import json, subprocess, sys, time
mode, n = sys.argv[1], 0
sim = subprocess.Popen([sys.executable, "examples/recommender/simulator.py"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
for line in sys.stdin:
    msg = json.loads(line)
    n += msg["type"] == "step"
    if n > 900 and msg["type"] == "step":
        if mode == "crash": sys.exit(3)
        if mode == "hang": time.sleep(60)
        if mode == "garbage": print("oops", flush=True); continue
        if mode == "error": print(json.dumps({"episode": msg["episode"], "error": "simulator overloaded"}), flush=True); continue
    sim.stdin.write(line); sim.stdin.flush()
    if msg["type"] != "close": print(sim.stdout.readline(), end="", flush=True)
PY
for mode in crash hang garbage; do
  set +e
  "$POSTTRAIN" run "$rec" "${recargs[@]}" "${short[@]}" --set run.name="env-$mode" --set algorithm.grpo.environment.timeout_s=3 \
    --set algorithm.grpo.environment.command="$PT_PYTHON $tmp/flaky.py $mode" > "$tmp/env-$mode.log" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "environment $mode: the run did not stop"
  case "$mode" in
    crash) pat="environment command '.*flaky.py crash': the process exited with status 3" ;;
    hang) pat="environment command '.*flaky.py hang': no reply within timeout_s = 3 for the step of episode [0-9]*" ;;
    garbage) pat="environment command '.*flaky.py garbage': episode [0-9]*: reply line 'oops' is not JSON" ;;
  esac
  grep -q "$pat" "$tmp/env-$mode.log" || { cat "$tmp/env-$mode.log"; fail "environment $mode message"; }
  grep -q "episode [0-9]* (step [0-9]*, prompt [0-9]*, sample [0-9]*)" "$tmp/env-$mode.log" || { cat "$tmp/env-$mode.log"; fail "environment $mode: episode not named"; }
  last="$(ls "$tmp/env-$mode/checkpoints" | tail -1)"
  [ -f "$tmp/env-$mode/checkpoints/$last/DONE" ] || fail "environment $mode: the last checkpoint is incomplete"
  echo "environment $mode: stopped with: $(grep -o "error: .*" "$tmp/env-$mode.log" | head -1 | cut -c1-220)"
done
"$POSTTRAIN" run "$rec" "${recargs[@]}" "${short[@]}" --set run.name=env-skip --set algorithm.grpo.environment.on_error=skip \
  --set algorithm.grpo.environment.command="$PT_PYTHON $tmp/flaky.py error" > "$tmp/env-skip.log" 2>&1 || { cat "$tmp/env-skip.log"; fail "on_error skip"; }
dropped="$(col "$tmp/env-skip/metrics.jsonl" episode/stop_env_error)"
"$PT_PYTHON" -c "import sys; v=[float(x) for x in sys.argv[1:]]; assert max(v) > 0 and v[0] == 0, v" $dropped || fail "skip: dropped episodes not counted: $dropped"
echo "environment on_error skip: dropped fraction per step $dropped"

# Multi-turn episodes on rollout ranks: each worker opens its share of the episodes and answers their
# turns with its own environment; against the colocated 1-rank runs above (8 steps each).
if have_mpi "multi-turn episodes on rollout ranks"; then
  sepenv() {  # NAME RECIPE REFERENCE ARGS...
    local name="$1" r="$2" ref="$3"; shift 3
    mpirun --allow-run-as-root --oversubscribe -np 3 "$POSTTRAIN" run "$r" "${short[@]}" "$@" \
      --set algorithm.grpo.rollout_ranks=2 --set run.name="$name" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name"; }
    "$PT_PYTHON" - "$tmp/$ref/metrics.jsonl" "$tmp/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
def cols(f, k):
    return [json.loads(l)[k] for l in open(f) if f'"{k}"' in l and "eval/" not in l]
for k in ("reward", "episode/turns", "episode/length"):
    a, b = cols(sys.argv[1], k), cols(sys.argv[2], k)
    assert a == b and len(a) == 8, (k, a, b)
la, lb = cols(sys.argv[1], "loss"), cols(sys.argv[2], "loss")
worst = max(abs(x - y) for x, y in zip(la, lb))
assert worst < 1e-5, (la, lb)
print(f"{sys.argv[3]} (1 trainer + 2 rollout ranks): per-step rewards and turns identical to the colocated run; max |loss diff| {worst:.1e}")
PY
  }
  sepenv game-sep "$recipe" game-resume-a "${game[@]}"
  sepenv rec-sep "$rec" rec-resume-a "${recargs[@]}"
fi
end_test
