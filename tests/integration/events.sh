#!/usr/bin/env bash
# Non-text event sequences with a model created from the recipe (model.init, no checkpoint, no
# tokenizer): the example's synthetic sessions are learned to near the process's loss floor (0.864
# nats per prediction), the saved model loads in transformers with the same logits, and a killed run
# resumes exactly from its saved weights (not a new random init).
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
recipe=examples/events/recipe.yaml
"$POSTTRAIN" run "$recipe" --set run.output_dir="$tmp" --set run.name=learn --set trainer.max_steps=100 \
  > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "events run"; }
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/loss"' in l]
floor = 0.864
print("event sessions: held-out loss by step " + ", ".join(f"{e['step']}: {e['eval/loss']:.3f}" for e in ev) +
      f" (floor {floor})")
assert ev[-1]["eval/loss"] < floor + 0.2, ev[-1]
PY
[ ! -f "$tmp/learn/model/tokenizer.json" ] || fail "a tokenizer-less run wrote tokenizer files"
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/learn/model" "$tmp/ref.safetensors" > /dev/null 2>&1
"$POSTTRAIN" verify-model "$tmp/learn/model" --reference "$tmp/ref.safetensors" | tee "$tmp/verify.txt" | grep -E "max abs|result"
grep -q "result .*PASS" "$tmp/verify.txt" || fail "transformers logits differ"
resume_check resume "$recipe" loss --set run.output_dir="$tmp"
cmp "$tmp/resume-a/model/model.safetensors" "$tmp/resume-b/model/model.safetensors" || fail "final weights differ"
