#!/usr/bin/env bash
# Every leaf key of the recipe schema has evidence that it is honoured or refused: a short run that
# the key changes, a located `validate` refusal of the combinations in which it does nothing, or the
# heavier test that owns it (the table: tests/integration/lib/recipe_keys.py). A new key with no
# entry fails the walk. Extra arguments check only those keys.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
head -n 200 examples/quickstart/train.jsonl > "$tmp/half.jsonl"
tail -n 200 examples/quickstart/train.jsonl > "$tmp/tail.jsonl"
# Another tokenizer directory: the quickstart's with a chat template that renders roles differently.
cp -r examples/quickstart/tokenizer "$tmp/tokenizer2"
"$PT_PYTHON" - "$tmp/tokenizer2/tokenizer_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["chat_template"].count("<|im_start|>") == 2
c["chat_template"] = c["chat_template"].replace("<|im_start|>", "<|im_start|>#")
json.dump(c, open(sys.argv[1], "w"))
PY
# KTO's unpaired records from the DPO example's pairs.
kto_records "$tmp/kto.jsonl"
# The reward-model base (model.init: a fresh model with a score head), 3 steps.
"$POSTTRAIN" run examples/reward_model/base.yaml --set run.output_dir="$tmp" --set run.name=rm-base --set trainer.max_steps=3 --set schedule.warmup_steps=1 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false > "$tmp/rm-base.log" 2>&1 ||
  { cat "$tmp/rm-base.log"; fail "reward model base"; }
"$PT_PYTHON" tests/integration/lib/recipe_keys.py "$POSTTRAIN" "$tmp" "$tmp/base/model" "$@"
end_test
