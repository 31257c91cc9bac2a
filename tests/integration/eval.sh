#!/usr/bin/env bash
# posttrain eval on the quickstart model after a short SFT (about 80% of reversals right), 150 prompts:
#  - greedy pass@1 with exact_match equals a transformers-based scorer (generate() with the same chat
#    template, the same answer extraction) on the same prompts, and the completions are identical
#  - sampled (4 per prompt, temperature 1): pass@4 >= pass@1, every completion and score in the JSON
#  - a run directory is evaluated like its model; task-file errors name the file, line and key
#  - trainer.eval.tasks: the same task file during training (eval/TASK/METRIC at every evaluation)
#    gives at the last step exactly what posttrain eval gives on the exported model
#  - trainer.eval.max_batch changes the engine's batch, not the answers
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
tail -n 150 examples/grpo/prompts.jsonl > "$tmp/reversal.jsonl"
cat > "$tmp/tasks.yaml" <<'YAML'
tasks:
  - name: reversal-greedy
    path: reversal.jsonl
    scorers: [{name: exact_match}, {name: numeric}]
    max_new_tokens: 10
  - name: reversal-sampled
    path: reversal.jsonl
    scorers: [{name: exact_match}]
    max_new_tokens: 10
    temperature: 1.0
    samples: 4
    pass_k: [1, 4]
    max_items: 50
YAML
"$POSTTRAIN" eval "$tmp/base" --tasks "$tmp/tasks.yaml" --output "$tmp/eval.json" > "$tmp/table.txt" 2> "$tmp/eval.log" ||
  { cat "$tmp/eval.log"; fail "posttrain eval"; }
cat "$tmp/table.txt"
"$PT_PYTHON" - "$tmp/base/model" "$tmp/reversal.jsonl" "$tmp/eval.json" <<'PY'
import json, sys, torch, transformers as tf
model_dir, prompts, ours = sys.argv[1:4]
m = tf.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
tok = tf.AutoTokenizer.from_pretrained(model_dir)
def answer(text):  # as the exact_match scorer: after ####, else the last non-empty line
    text = text.split("####")[-1] if "####" in text else ([l for l in text.splitlines() if l.strip()] or [""])[-1]
    return text.strip()
rows = [json.loads(l) for l in open(prompts)]
res = json.load(open(ours))["tasks"]
right, same = 0, 0
with torch.no_grad():
    for r, item in zip(rows, res["reversal-greedy"]["completions"]):
        ids = tok.apply_chat_template(r["prompt"], add_generation_prompt=True, return_tensors="pt", return_dict=True)
        out = m.generate(**ids, max_new_tokens=10, do_sample=False, eos_token_id=[tok.eos_token_id, m.config.eos_token_id],
                         pad_token_id=tok.pad_token_id or 0)
        text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        right += answer(text) == r["answer"].strip()
        same += text == item["completions"][0]["text"]
ours1 = res["reversal-greedy"]["pass@1"]
print(f"eval: greedy exact match, posttrain eval {ours1:.4f} vs transformers {right / len(rows):.4f}; "
      f"completions identical {same}/{len(rows)}")
assert abs(ours1 - right / len(rows)) < 1e-9, (ours1, right / len(rows))
assert same == len(rows), same
s = res["reversal-sampled"]
assert s["pass@4"] >= s["pass@1"] and s["items"] == 50 and all(len(c["completions"]) == 4 for c in s["completions"]), s
print(f"eval: sampled pass@1 {s['pass@1']:.3f} <= pass@4 {s['pass@4']:.3f} (50 prompts x 4)")
PY
# A run directory evaluates as its final model.
"$POSTTRAIN" eval "$tmp/base" --tasks "$tmp/tasks.yaml" > "$tmp/table2.txt" 2> /dev/null || fail "eval of the run directory"
cmp "$tmp/table.txt" "$tmp/table2.txt" || fail "the same evaluation twice differs"

# During training: the quickstart SFT evaluates the task file at steps 0, 40 and 80.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=live --set trainer.max_steps=80 \
  --set trainer.eval.every=40 --set trainer.eval.tasks="$tmp/tasks.yaml" --set checkpoint.save_final=true \
  > "$tmp/live.log" 2>&1 || { cat "$tmp/live.log"; fail "training with trainer.eval.tasks"; }
"$POSTTRAIN" eval "$tmp/live" --tasks "$tmp/tasks.yaml" --output "$tmp/live.json" > /dev/null 2>&1 || fail "eval of the live run"
"$PT_PYTHON" - "$tmp/live/metrics.jsonl" "$tmp/live.json" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/reversal-greedy/pass@1"' in l]
assert [e["step"] for e in ev] == [0, 40, 80], [e["step"] for e in ev]
final = json.load(open(sys.argv[2]))["tasks"]
for task, key in (("reversal-greedy", "pass@1"), ("reversal-greedy", "mean/numeric"), ("reversal-sampled", "pass@4")):
    live = ev[-1][f"eval/{task}/{key.split('/')[-1]}"]
    assert abs(live - final[task][key]) < 1e-12, (task, key, live, final[task][key])
print("trainer.eval.tasks: greedy pass@1 by step " + ", ".join(f"{e['step']}: {e['eval/reversal-greedy/pass@1']:.3f}" for e in ev)
      + f"; at the end = posttrain eval ({final['reversal-greedy']['pass@1']:.3f}, sampled pass@4 too)")
PY

# trainer.eval.max_batch: the engine's batch for eval.generate and the tasks; the answers do not depend on it.
for b in 64 3; do
  "$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name="mb$b" --set trainer.max_steps=1 --set schedule.warmup_steps=0 \
    --set trainer.eval.at_end=false --set trainer.eval.tasks="$tmp/tasks.yaml" --set model.path="$tmp/base/model" \
    --set trainer.eval.max_batch="$b" > "$tmp/mb$b.log" 2>&1 || { cat "$tmp/mb$b.log"; fail "trainer.eval.max_batch=$b"; }
  grep -q "engine batch $b (trainer.eval.max_batch)" "$tmp/mb$b.log" || fail "trainer.eval.max_batch=$b not used"
done
"$PT_PYTHON" - "$tmp/mb64/metrics.jsonl" "$tmp/mb3/metrics.jsonl" <<'PY'
import json, sys
ev = lambda p: {k: v for k, v in [json.loads(l) for l in open(p) if '"eval/accuracy"' in l][0].items() if k.startswith("eval/")}
a, b = ev(sys.argv[1]), ev(sys.argv[2])
assert a == b and "eval/reversal-sampled/pass@4" in a, (a, b)
print(f"trainer.eval.max_batch 64 vs 3: {len(a)} eval metrics identical (accuracy {a['eval/accuracy']:.3f}, "
      f"sampled pass@4 {a['eval/reversal-sampled/pass@4']:.3f})")
PY

bad() {  # bad "message" YAML: eval refuses the task file with the message
  printf '%s\n' "$2" > "$tmp/bad.yaml"
  if "$POSTTRAIN" eval "$tmp/base" --tasks "$tmp/bad.yaml" > "$tmp/out" 2>&1; then fail "accepted: $2"; fi
  grep -q "$1" "$tmp/out" || { cat "$tmp/out"; fail "expected '$1'"; }
  grep -q "bad.yaml" "$tmp/out" || { cat "$tmp/out"; fail "no file named in: $(cat "$tmp/out")"; }
}
bad "unknown key 'sampels'" $'tasks:\n  - name: t\n    path: reversal.jsonl\n    scorers: [{name: exact_match}]\n    sampels: 2'
bad "pass_k 4 needs at least 4 samples" $'tasks:\n  - name: t\n    path: reversal.jsonl\n    scorers: [{name: exact_match}]\n    pass_k: [4]'
bad "would all be the same" $'tasks:\n  - name: t\n    path: reversal.jsonl\n    scorers: [{name: exact_match}]\n    samples: 3'
bad "has no scorers" $'tasks:\n  - name: t\n    path: reversal.jsonl'
bad "tasks\[0\].environment.tool_format: tool_format is only read by environment calculator or tools" \
  $'tasks:\n  - name: t\n    path: reversal.jsonl\n    environment: {name: guess_number, tool_format: hermes}'
bad "environment 'tools' adds no reward" $'tasks:\n  - name: t\n    path: reversal.jsonl\n    environment: {name: tools, tools: [{name: calculator}]}'
echo "eval ok"
