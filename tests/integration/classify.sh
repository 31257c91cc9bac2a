#!/usr/bin/env bash
# A sequence-classification head (model.head) trained with algorithm classify on a synthetic task
# ("does the digit string contain a 7?") reaches high held-out accuracy; the saved model is a
# Qwen2ForSequenceClassification that transformers loads with the same logits (verify-model); posttrain
# loads it back for further training; regression (num_labels 1, mean squared error) runs too.
# A token-classification head: tiny random *ForTokenClassification models (with a score bias) match
# transformers' logits at every token; trained on pre-tokenized records whose label at each position
# is the previous id mod 3 (needs attention), it reaches high held-out accuracy and exports as
# Qwen2ForTokenClassification with transformers' logits; LoRA with a head is refused.
# A projection head onto a separate id space (1,000 ids, beyond the 300-token vocabulary) learns
# "output id = f(previous input id)", is saved beside the HF model (projection_head.safetensors +
# .json; transformers loads the rest), and is loaded back by posttrain with its accuracy.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
# Held-out accuracy by step; the last one above MIN. LABEL METRICS MIN
accuracy() {
  "$PT_PYTHON" - "$2" "$1" "$3" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/accuracy"' in l]
print(f"{sys.argv[2]}: held-out accuracy by step " + ", ".join(f"{e['step']}: {e['eval/accuracy']:.3f}" for e in ev))
assert ev[-1]["eval/accuracy"] > float(sys.argv[3]), ev[-1]
PY
}
"$PT_PYTHON" - "$tmp" <<'PY'
import json, random, sys
rng = random.Random(1)
with open(f"{sys.argv[1]}/data.jsonl", "w") as f:
    for _ in range(3000):
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        f.write(json.dumps({"text": f"Digits: {s}", "label": int("7" in s), "sevens": s.count("7")}) + "\n")
PY
args=(--set run.output_dir="$tmp" --set algorithm.name=classify --set data.seq_len=64 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64
      --set "data.sources=[{name: has7, path: $tmp/data.jsonl, format: classification}]")
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=cls --set trainer.max_steps=60 --set trainer.eval.every=20 \
  --set 'model.head={type: sequence_classification, num_labels: 2}' > "$tmp/cls.log" 2>&1 || { cat "$tmp/cls.log"; fail "classify run"; }
accuracy "sequence classification" "$tmp/cls/metrics.jsonl" 0.95
grep -q '"Qwen2ForSequenceClassification"' "$tmp/cls/model/config.json" || fail "the classifier was not saved as Qwen2ForSequenceClassification"
parity "trained sequence classifier (Qwen2ForSequenceClassification)" "$tmp/cls/model"
# Loaded back (its own head) for further training.
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=again --set model.path="$tmp/cls/model" \
  --set 'model.head={type: sequence_classification, num_labels: 2}' --set trainer.max_steps=10 --set schedule.warmup_steps=2 \
  > "$tmp/again.log" 2>&1 || { cat "$tmp/again.log"; fail "continue training the classifier"; }
grep "eval at step 0:" "$tmp/again.log" | grep -qE "eval/accuracy (0\.9[5-9]|1)" || { grep "eval at" "$tmp/again.log"; fail "the reloaded head lost its accuracy"; }
# Regression: the number of 7s.
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=reg --set trainer.max_steps=30 \
  --set "data.sources=[{name: sevens, path: $tmp/data.jsonl, format: classification, fields: {label: sevens}}]" \
  --set 'model.head={type: sequence_classification, num_labels: 1}' > "$tmp/reg.log" 2>&1 || { cat "$tmp/reg.log"; fail "regression run"; }
"$PT_PYTHON" -c 'import json,sys; l=[json.loads(x)["eval/loss"] for x in open(sys.argv[1]) if "eval/loss" in x]; print(f"regression held-out MSE {l[0]:.3f} -> {l[-1]:.3f}"); assert l[-1] < l[0] / 2, l' "$tmp/reg/metrics.jsonl"

for a in llama qwen2; do
  "$PT_PYTHON" tests/reference/make_token_cls.py "$tmp/tc-$a" "$a" 2> /dev/null
  parity "$a token classifier" "$tmp/tc-$a"
done
"$PT_PYTHON" - "$tmp" <<'PY'
import json, random, sys
rng = random.Random(2)
with open(f"{sys.argv[1]}/tags.jsonl", "w") as f:
    for _ in range(2000):
        ids = [rng.randrange(3, 300) for _ in range(rng.randint(6, 24))]
        f.write(json.dumps({"ids": ids, "tags": [-100] + [p % 3 for p in ids[:-1]]}) + "\n")
PY
targs=(--set run.output_dir="$tmp" --set algorithm.name=classify --set data.seq_len=64 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64
       --set "data.sources=[{name: tags, path: $tmp/tags.jsonl, format: token_classification, fields: {labels: tags}}]"
       --set 'model.head={type: token_classification, num_labels: 3}')
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${targs[@]}" --set run.name=tok --set trainer.max_steps=80 --set trainer.eval.every=40 \
  > "$tmp/tok.log" 2>&1 || { cat "$tmp/tok.log"; fail "token classification run"; }
accuracy "token classification (chance 0.33)" "$tmp/tok/metrics.jsonl" 0.9
grep -q '"Qwen2ForTokenClassification"' "$tmp/tok/model/config.json" || fail "the token classifier was not saved as Qwen2ForTokenClassification"
parity "trained token classifier (Qwen2ForTokenClassification)" "$tmp/tok/model"
if "$POSTTRAIN" run examples/quickstart/recipe.yaml "${targs[@]}" --set run.name=tok-lora --set 'model.lora={rank: 4}' > "$tmp/tl.log" 2>&1; then
  fail "LoRA with a classification head was accepted"
fi
grep -q "heads under LoRA are not part of this build" "$tmp/tl.log" || { cat "$tmp/tl.log"; fail "LoRA head message"; }

"$PT_PYTHON" - "$tmp" <<'PY'
import json, random, sys
rng = random.Random(3)
with open(f"{sys.argv[1]}/proj.jsonl", "w") as f:
    for _ in range(3000):
        ids = [rng.randrange(3, 60) for _ in range(rng.randint(6, 24))]
        f.write(json.dumps({"ids": ids, "labels": [-100] + [(p * 37 + 11) % 1000 for p in ids[:-1]]}) + "\n")
PY
pargs=(--set run.output_dir="$tmp" --set algorithm.name=classify --set data.seq_len=64 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64
       --set "data.sources=[{name: proj, path: $tmp/proj.jsonl, format: token_classification}]"
       --set 'model.head={type: projection, num_labels: 1000}')
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${pargs[@]}" --set run.name=proj --set trainer.max_steps=120 --set trainer.eval.every=60 \
  > "$tmp/proj.log" 2>&1 || { cat "$tmp/proj.log"; fail "projection head run"; }
accuracy "projection head (1,000 output ids)" "$tmp/proj/metrics.jsonl" 0.9
[ -f "$tmp/proj/model/projection_head.safetensors" ] && [ -f "$tmp/proj/model/projection_head.json" ] || fail "projection head files missing"
"$PT_PYTHON" - "$tmp/proj/model" <<'PY'
import json, sys
import transformers as tf
from safetensors.torch import load_file
m = tf.AutoModelForCausalLM.from_pretrained(sys.argv[1])
w = load_file(f"{sys.argv[1]}/projection_head.safetensors")["projection_head.weight"]
meta = json.load(open(f"{sys.argv[1]}/projection_head.json"))
assert tuple(w.shape) == (1000, m.config.hidden_size) and meta["num_outputs"] == 1000, (w.shape, meta)
print(f"transformers loads the body; projection head {tuple(w.shape)} beside it")
PY
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${pargs[@]}" --set run.name=proj-again --set model.path="$tmp/proj/model" \
  --set trainer.max_steps=5 --set schedule.warmup_steps=1 > "$tmp/proj-again.log" 2>&1 || { cat "$tmp/proj-again.log"; fail "reload projection head"; }
grep "eval at step 0:" "$tmp/proj-again.log" | grep -qE "eval/accuracy (0\.9|1)" || { grep "eval at" "$tmp/proj-again.log"; fail "the reloaded projection head lost its accuracy"; }
echo "classification heads ok"
