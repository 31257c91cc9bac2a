#!/usr/bin/env bash
# Distillation end to end on the quickstart fixtures (CPU):
#  - learning: a random-init student about half the teacher's size, distilled from the SFT'd
#    quickstart model, at least halves its held-out KL to the teacher and ends within 10 points of
#    the teacher's exact-match accuracy (both printed)
#  - exact resume after SIGKILL inside a step: identical per-step losses and final weights
#  - a teacher with another tokenizer is refused with what differs
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

resume_check resume "$recipe" loss,kl "${common[@]}"
cmp "$tmp/resume-a/model/model.safetensors" "$tmp/resume-b/model/model.safetensors" || fail "final weights differ"

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
