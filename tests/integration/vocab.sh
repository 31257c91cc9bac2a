#!/usr/bin/env bash
# Expanded vocabulary: 1,000 new tokens (semantic ids "<sid_N>") added through tokenizer.add_tokens_file
# grow the quickstart model's embedding (tied LM head) from 300 to 1,300 rows (new rows at the mean),
# full fine-tuning trains them on chats whose answers are spelled in new tokens; the saved checkpoint
# reloads in transformers with the same logits (verify-model, ids drawn over the whole vocabulary) and
# in HF tokenizers with the same ids; with LoRA the new rows train as PEFT trainable_token_indices
# that peft loads with our logits, and resume exactly.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
"$PT_PYTHON" - "$tmp" <<'PY'
import json, random, sys
d = sys.argv[1]
open(f"{d}/tokens.txt", "w").write("".join(f"<sid_{i}>\n" for i in range(1000)))
rng = random.Random(4)
with open(f"{d}/chats.jsonl", "w") as f:
    for _ in range(2000):
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 5)))
        f.write(json.dumps({"messages": [{"role": "user", "content": f"Reverse the digits: {s}"},
                                         {"role": "assistant", "content": "".join(f"<sid_{c}>" for c in s[::-1])}]}) + "\n")
PY
args=(--set run.output_dir="$tmp" --set tokenizer.add_tokens_file="$tmp/tokens.txt"
      --set "data.sources=[{name: sid, path: $tmp/chats.jsonl, format: chat}]" --set trainer.max_steps=40
      --set trainer.eval.every=0 --set trainer.eval.at_start=false --set schedule.warmup_steps=5 --set logging.every=1)
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=grow > "$tmp/grow.log" 2>&1 || { cat "$tmp/grow.log"; fail "run with new tokens"; }
grep -q "vocabulary grows from 300 to 1300 tokens" "$tmp/grow.log" || fail "the vocabulary did not grow"
grep -o '"vocab_size": [0-9]*' "$tmp/grow/model/config.json" | grep -q 1300 || fail "saved vocab_size"
"$PT_PYTHON" - "$tmp/grow/metrics.jsonl" <<'PY'
import json, sys
l = [json.loads(x)["loss"] for x in open(sys.argv[1]) if '"loss"' in x and "eval/" not in x]
print(f"training on new tokens: loss {l[0]:.3f} -> {l[-1]:.3f}")
assert l[-1] < l[0] / 2, l
PY
parity "grown vocabulary (1,300 ids) in transformers" "$tmp/grow/model"
ours="$("$POSTTRAIN" tokenize --tokenizer "$tmp/grow/model" --text 'x <sid_5><sid_999> 12<sid_0>' --ids-only)"
theirs="$("$PT_PYTHON" -c 'import sys; from tokenizers import Tokenizer; print(Tokenizer.from_file(sys.argv[1]).encode("x <sid_5><sid_999> 12<sid_0>", add_special_tokens=False).ids)' "$tmp/grow/model/tokenizer.json")"
echo "ids: ours $ours, HF tokenizers $theirs"
[ "$(echo "$ours" | tr -cd '0-9,')" = "$(echo "$theirs" | tr -cd '0-9,')" ] || fail "token ids differ after reload"
echo "$ours" | grep -q 305 || fail "<sid_5> is not id 305"
# New rows alone: everything else (the old rows included) stays bit-identical.
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=alone --set trainer.max_steps=10 \
  --set tokenizer.train_new_tokens_only=true > "$tmp/alone.log" 2>&1 || { cat "$tmp/alone.log"; fail "new rows alone"; }
"$PT_PYTHON" - examples/quickstart/model/model.safetensors "$tmp/alone/model/model.safetensors" <<'PY'
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
for k, v in a.items():
    w = b[k]
    if k == "model.embed_tokens.weight":
        assert (w[: v.shape[0]] == v).all(), "old embedding rows moved"
        new = w[v.shape[0]:]
        mean = v.mean(0)
        moved = (new - mean).abs().amax(1) > 0
        print(f"new rows alone: {int(moved.sum())} of {new.shape[0]} new rows trained, old rows and all other tensors unchanged")
        assert moved.sum() > 0
    else:
        assert (w == v).all(), k
PY
# With LoRA: the base stays frozen, the new rows train as PEFT trainable_token_indices; peft loads
# the adapter onto the base resized to 1,300 rows with the logits of our merged export; the new rows
# resume exactly.
lora=(--set 'model.lora={rank: 8, alpha: 16, merge_on_export: true}')
"$POSTTRAIN" run examples/quickstart/recipe.yaml "${args[@]}" --set run.name=lora "${lora[@]}" > "$tmp/lora.log" 2>&1 || { cat "$tmp/lora.log"; fail "LoRA with new tokens"; }
grep -q "new token rows (ids 300..1299) train with the adapters" "$tmp/lora.log" || { cat "$tmp/lora.log"; fail "new rows under LoRA"; }
"$PT_PYTHON" - "$tmp/lora/metrics.jsonl" "$tmp/lora/model/adapter_config.json" <<'PY'
import json, sys
l = [json.loads(x)["loss"] for x in open(sys.argv[1]) if '"loss"' in x and "eval/" not in x]
c = json.load(open(sys.argv[2]))
ids = c["trainable_token_indices"]["embed_tokens"]
print(f"LoRA + new tokens: loss {l[0]:.3f} -> {l[-1]:.3f}; adapter trainable_token_indices embed_tokens {ids[0]}..{ids[-1]}")
assert l[-1] < l[0] / 2 and ids == list(range(300, 1300)), (l, ids[:3])
PY
ref_model=examples/quickstart/model parity "peft(base resized + our adapter) vs our merged export" "$tmp/lora/model/merged" \
  --adapter "$tmp/lora/model" --resize 1300
resume_check lora-rows examples/quickstart/recipe.yaml loss --set run.output_dir="$tmp" --set tokenizer.add_tokens_file="$tmp/tokens.txt" \
  --set "data.sources=[{name: sid, path: $tmp/chats.jsonl, format: chat}]" "${lora[@]}"
cmp "$tmp/lora-rows-a/model/adapter_model.safetensors" "$tmp/lora-rows-b/model/adapter_model.safetensors" || fail "adapter differs after resume"
echo "expanded vocabulary: 1000 new tokens trained, reloaded by transformers and HF tokenizers with the same logits and ids"
