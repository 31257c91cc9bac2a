#!/usr/bin/env bash
# Distillation end to end on the quickstart fixtures (CPU):
#  - learning: a random-init student about half the teacher's size, distilled from the SFT'd
#    quickstart model, at least halves its held-out KL to the teacher and ends within 10 points of
#    the teacher's exact-match accuracy (both printed)
#  - exact resume after SIGKILL inside a step: identical per-step losses and final weights
#  - a teacher with another tokenizer is refused with what differs
#  - on-policy distillation (GKD, on_policy = lambda): for the same 80 steps the student that samples its
#    own answers ends closer to the teacher (held-out KL) and answers better (greedy exact match) than
#    offline distillation — both printed; lambda 0.5 samples on about half the steps; exact resume;
#    1 trainer + 1 rollout rank reproduces the colocated run; sampling keys refused when on_policy is 0
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh

"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=teacher \
  --set trainer.max_steps=100 --set trainer.eval.every=0 --set trainer.eval.at_start=false \
  --set checkpoint.save_final=false > "$tmp/teacher.log" 2>&1 || { cat "$tmp/teacher.log"; fail "teacher SFT"; }
recipe=examples/distill/recipe.yaml
common=(--set run.output_dir="$tmp" --set algorithm.distill.teacher="$tmp/teacher/model")

"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=learn > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "distill run"; }
"$PT_PYTHON" - "$tmp/teacher/metrics.jsonl" "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
teacher = [json.loads(l) for l in open(sys.argv[1]) if '"eval/accuracy"' in l][-1]["eval/accuracy"]
ev = [json.loads(l) for l in open(sys.argv[2]) if '"eval/kl"' in l]
first, last = ev[0], ev[-1]
print(f"distill learning: held-out student-teacher KL {first['eval/kl']:.3f} -> {last['eval/kl']:.4f}; "
      f"exact match student {first['eval/accuracy']:.3f} -> {last['eval/accuracy']:.3f}, teacher {teacher:.3f}")
assert last["eval/kl"] <= first["eval/kl"] / 2, (first, last)
assert last["eval/accuracy"] >= teacher - 0.10, (teacher, last)
PY

# The other divergences through the trainer, the recipe's 160 steps each: reverse KL and JSD (beta 0.5)
# train and evaluate their own divergence, which falls by at least 40% on held-out data (reverse KL from
# the random student is far slower than forward KL here: 5.36 -> 2.90 measured, against forward KL's
# 5.47 -> 0.02, with gradient norms alike).
for div in "reverse_kl" "jsd --set algorithm.distill.beta=0.5"; do
  name="${div%% *}"
  # shellcheck disable=SC2086
  "$POSTTRAIN" run "$recipe" "${common[@]}" --set trainer.eval.every=0 \
    --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set algorithm.distill.loss=$div \
    --set run.name="$name" > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "distill $name"; }
  "$PT_PYTHON" - "$tmp/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
k = "eval/jsd" if sys.argv[2] == "jsd" else "eval/kl"  # the metric names the divergence trained
ev = [json.loads(l) for l in open(sys.argv[1]) if f'"{k}"' in l]
print(f"distill {sys.argv[2]}: held-out student-teacher {k} {ev[0][k]:.3f} -> {ev[-1][k]:.4f} in {ev[-1]['step']} steps")
assert len(ev) == 2 and ev[-1][k] <= 0.6 * ev[0][k], ev
PY
done

resume_check resume "$recipe" loss,kl "${common[@]}"
cmp "$tmp/resume-a/model/model.safetensors" "$tmp/resume-b/model/model.safetensors" || fail "final weights differ"

# On-policy vs offline distillation, the same 80 steps from the same student.
opd=(--set trainer.max_steps=80 --set trainer.eval.every=40 --set algorithm.distill.max_new_tokens=12 --set logging.every=1)
"$POSTTRAIN" run "$recipe" "${common[@]}" --set trainer.max_steps=80 --set trainer.eval.every=40 --set run.name=offline \
  > "$tmp/offline.log" 2>&1 || { cat "$tmp/offline.log"; fail "offline distill run"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" "${opd[@]}" --set algorithm.distill.on_policy=1 --set run.name=onpolicy \
  > "$tmp/onpolicy.log" 2>&1 || { cat "$tmp/onpolicy.log"; fail "on-policy distill run"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" "${opd[@]}" --set algorithm.distill.on_policy=0.5 --set run.name=mixed \
  > "$tmp/mixed.log" 2>&1 || { cat "$tmp/mixed.log"; fail "mixed distill run"; }
"$PT_PYTHON" - "$tmp/offline/metrics.jsonl" "$tmp/onpolicy/metrics.jsonl" "$tmp/mixed/metrics.jsonl" <<'PY'
import json, sys
def curve(p):
    ev = [json.loads(l) for l in open(p) if '"eval/kl"' in l]
    return ev, ", ".join(f"{e['step']}: KL {e['eval/kl']:.3f} / exact {e['eval/accuracy']:.3f}" for e in ev)
off, off_s = curve(sys.argv[1])
on, on_s = curve(sys.argv[2])
mix, mix_s = curve(sys.argv[3])
print(f"offline distillation:            {off_s}")
print(f"on-policy distillation (lambda 1): {on_s}")
print(f"on-policy lambda 0.5:             {mix_s}")
assert on[-1]["eval/kl"] < off[-1]["eval/kl"], (on[-1], off[-1])
assert on[-1]["eval/accuracy"] >= off[-1]["eval/accuracy"], (on[-1], off[-1])
steps = [json.loads(l) for l in open(sys.argv[3]) if '"loss"' in l and "eval/" not in l]
sampled = sum(1 for r in steps if r.get("on_policy") == 1)
print(f"lambda 0.5: {sampled} of {len(steps)} logged steps sampled by the student")
PY
grep -q '"on_policy"' "$tmp/offline/metrics.jsonl" && fail "offline run sampled"
resume_check opd-resume "$recipe" loss,kl "${common[@]}" --set algorithm.distill.on_policy=0.5 --set algorithm.distill.max_new_tokens=12
if have_mpi "on-policy distillation with a rollout rank"; then
  timeout 600 mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run "$recipe" "${short[@]}" "${common[@]}" \
    --set algorithm.distill.on_policy=0.5 --set algorithm.distill.max_new_tokens=12 --set algorithm.distill.rollout_ranks=1 \
    --set run.name=opd-sep > "$tmp/opd-sep.log" 2>&1 || { cat "$tmp/opd-sep.log"; fail "on-policy distill with a rollout rank"; }
  grep -q "rollouts on 1 separate rank" "$tmp/opd-sep.log" || fail "opd-sep did not use a rollout rank"
  "$PT_PYTHON" - "$tmp/opd-resume-a/metrics.jsonl" "$tmp/opd-sep/metrics.jsonl" <<'PY'
import json, sys
cols = lambda p: [json.loads(l)["loss"] for l in open(p) if '"loss"' in l and "eval/" not in l]
a, b = cols(sys.argv[1]), cols(sys.argv[2])
worst = max(abs(x - y) for x, y in zip(a, b))
print(f"on-policy distillation, 1 trainer + 1 rollout rank vs 1 rank: {len(b)} steps, max |loss diff| {worst:.2e}")
assert len(a) == len(b) == 8 and worst < 1e-5, (a, b)
PY
fi
if "$POSTTRAIN" run "$recipe" --dry-run "${common[@]}" --set algorithm.distill.max_new_tokens=12 > "$tmp/out" 2>&1; then fail "max_new_tokens accepted offline"; fi
grep -q "on_policy is 0" "$tmp/out" || { cat "$tmp/out"; fail "unclear refusal"; }

# A teacher whose tokenizer differs: the quickstart model with the Qwen3 tokenizer next to it.
mkdir -p "$tmp/other"
cp "$tmp/teacher/model/config.json" "$tmp/teacher/model/model.safetensors" "$tmp/other/"
zstd -dq tests/assets/tokenizers/qwen3/tokenizer.json.zst -o "$tmp/other/tokenizer.json"
cp tests/assets/tokenizers/qwen3/tokenizer_config.json "$tmp/other/"
set +e
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set algorithm.distill.teacher="$tmp/other" --set run.name=c > "$tmp/c.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a teacher with another tokenizer was accepted"
grep -q "teacher's tokenizer .* has [0-9]* tokens, the student's has" "$tmp/c.log" || { cat "$tmp/c.log"; fail "unclear tokenizer refusal"; }
echo "teacher with another tokenizer refused: $(grep -o "the teacher's tokenizer.*" "$tmp/c.log" | head -c 200)"
end_test
