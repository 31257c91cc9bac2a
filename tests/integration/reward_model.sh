#!/usr/bin/env bash
# Reward-model training (algorithm reward_model) end to end on CPU, from a short SFT of the quickstart
# model with a new one-output score head, on the DPO example's pairs (chosen = the correct reversal,
# rejected = a near miss):
#  - held-out pairwise accuracy (eval/accuracy) rises from chance
#  - the export is a Qwen2ForSequenceClassification with transformers' logits (verify-model), and
#    transformers, scoring each pair's conversation up to the end of the answer (the text the GRPO
#    `model` reward reads), ranks chosen above rejected as often as training said
#  - it serves as a GRPO `model` reward
#  - exact resume after SIGKILL; pairs with a margin field train; a head with 2 labels is refused
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 160
rm_args=(examples/reward_model/recipe.yaml --set run.output_dir="$tmp" --set model.path="$tmp/base/model")
"$POSTTRAIN" run "${rm_args[@]}" --set run.name=rm --set optimizer.lr=1e-3 --set trainer.max_steps=200 \
  --set trainer.eval.every=50 > "$tmp/rm.log" 2>&1 || { cat "$tmp/rm.log"; fail "reward model run"; }
"$PT_PYTHON" - "$tmp/rm/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/accuracy"' in l]
print("reward model: held-out pairwise accuracy by step " + ", ".join(f"{e['step']}: {e['eval/accuracy']:.3f}" for e in ev))
assert ev[0]["eval/accuracy"] < 0.6 and ev[-1]["eval/accuracy"] >= 0.7, ev
assert ev[-1]["eval/margin"] > ev[0]["eval/margin"], ev
PY
grep -q '"Qwen2ForSequenceClassification"' "$tmp/rm/model/config.json" || fail "not saved as Qwen2ForSequenceClassification"
parity "reward model (Qwen2ForSequenceClassification)" "$tmp/rm/model"

# transformers scores every pair's conversation up to the end of the answer.
"$PT_PYTHON" - "$tmp/rm/model" examples/dpo/train.jsonl <<'PY'
import json, sys, torch, transformers as tf
m = tf.AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()
tok = tf.AutoTokenizer.from_pretrained(sys.argv[1])
assert m.config.num_labels == 1, m.config.num_labels
def text(prompt, answer):
    full = tok.apply_chat_template(prompt + answer, tokenize=False)
    end = full.rfind(tok.eos_token or "<|im_end|>")  # up to and including the answer's end-of-turn token
    return full[: end + len(tok.eos_token or "<|im_end|>")]
right = n = 0
with torch.no_grad():
    for line in list(open(sys.argv[2]))[:600]:
        r = json.loads(line)
        s = [m(**tok(text(r["prompt"], r[k]), return_tensors="pt")).logits[0, 0].item() for k in ("chosen", "rejected")]
        right += s[0] > s[1]; n += 1
print(f"transformers: chosen scored above rejected in {right}/{n} pairs ({right / n:.3f})")
assert right / n >= 0.7, right / n
PY

# As the GRPO `model` reward.
sft_base grpo-base 80
"$POSTTRAIN" run examples/reward_model/grpo.yaml --set run.output_dir="$tmp" --set run.name=grpo --set model.path="$tmp/grpo-base/model" \
  --set "algorithm.grpo.rewards=[{name: model, model: $tmp/rm/model}, {name: exact_match, weight: 0.0}]" --set trainer.max_steps=2 --set trainer.eval.every=0 \
  --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set logging.every=1 > "$tmp/grpo.log" 2>&1 ||
  { cat "$tmp/grpo.log"; fail "GRPO with the reward model"; }
grep -q "reward 'model': reward model" "$tmp/grpo.log" || fail "the reward model was not loaded"
[ "$(col "$tmp/grpo/metrics.jsonl" rewards/model | wc -w)" -eq 2 ] || fail "no model reward logged"
[ "$(col "$tmp/grpo/metrics.jsonl" rewards/exact_match | wc -w)" -eq 2 ] || fail "the weight-0 monitor was not logged"
"$PT_PYTHON" -c 'import sys; a = [float(x) for x in sys.argv[1:]]; assert len(a) == 2 and all(0 <= x <= 1 for x in a), a' \
  $(col "$tmp/grpo/metrics.jsonl" rewards/exact_match_agreement) || fail "no agreement of the reward model with its monitor"
echo "GRPO with the trained reward model: rewards/model $(col "$tmp/grpo/metrics.jsonl" rewards/model);" \
  "agreement with exact match $(col "$tmp/grpo/metrics.jsonl" rewards/exact_match_agreement)"
# The agreement counts pairs over the whole step: 2 ranks (each its half of the prompts) log 1 rank's values.
if have_mpi "reward-model GRPO on 2 ranks"; then
  mpirun --allow-run-as-root --oversubscribe -np 2 "$POSTTRAIN" run examples/reward_model/grpo.yaml --set run.output_dir="$tmp" \
    --set run.name=grpo2 --set model.path="$tmp/grpo-base/model" --set trainer.micro_batch_tokens=256 \
    --set "algorithm.grpo.rewards=[{name: model, model: $tmp/rm/model}, {name: exact_match, weight: 0.0}]" --set trainer.max_steps=2 \
    --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set logging.every=1 > "$tmp/grpo2.log" 2>&1 ||
    { cat "$tmp/grpo2.log"; fail "GRPO with the reward model on 2 ranks"; }
  for k in rewards/exact_match_agreement rewards/model; do
    [ "$(col "$tmp/grpo/metrics.jsonl" $k)" = "$(col "$tmp/grpo2/metrics.jsonl" $k)" ] ||
      fail "$k on 2 ranks $(col "$tmp/grpo2/metrics.jsonl" $k) != 1 rank $(col "$tmp/grpo/metrics.jsonl" $k)"
  done
  echo "2 ranks: the same agreement and reward-model scores as 1 rank"
fi

# Exact resume; a margin per pair; refusals.
resume_check rm-resume examples/reward_model/recipe.yaml loss,accuracy,margin --set run.output_dir="$tmp" --set model.path="$tmp/base/model"
"$PT_PYTHON" -c 'import json,sys
for i, l in enumerate(open(sys.argv[1])):
    r = json.loads(l); r["margin"] = 1.0 if i % 2 else 0.0; print(json.dumps(r))' examples/dpo/train.jsonl > "$tmp/margin.jsonl"
"$POSTTRAIN" run "${rm_args[@]}" --set run.name=margin "${short[@]}" \
  --set "data.sources=[{name: m, path: $tmp/margin.jsonl, format: preference}]" > "$tmp/margin.log" 2>&1 || { cat "$tmp/margin.log"; fail "margin run"; }
[ "$(col "$tmp/rm-resume-a/metrics.jsonl" loss | cut -d' ' -f1)" != "$(col "$tmp/margin/metrics.jsonl" loss | cut -d' ' -f1)" ] ||
  fail "the margin field changed nothing"
if "$POSTTRAIN" run examples/reward_model/recipe.yaml --dry-run --set 'model.head={type: sequence_classification, num_labels: 2}' 2> "$tmp/err" > "$tmp/out"; then
  fail "a 2-label head was accepted"
fi
grep -q "model.head needs type sequence_classification and num_labels 1" "$tmp/out" "$tmp/err" || { cat "$tmp/out" "$tmp/err"; fail "refusal message"; }
echo "reward model ok"
end_test
