#!/usr/bin/env bash
# DPO end to end on the quickstart fixtures (CPU):
#  - learning: from a short SFT base (~70% exact match), DPO lifts held-out reward accuracy above
#    0.9 and moves greedy answers toward the chosen ones (before/after printed)
#  - exact resume after SIGKILL inside a step, with a frozen reference model: identical per-step
#    losses and reward margins, byte-identical final weights
#  - LoRA with the adapters-off reference (no second copy): exact resume too; peak RSS of both
#    reference modes printed
#  - cached reference log-probs: written once to the run directory, not recomputed on resume, and
#    equal to the live frozen-reference run's losses
#  - bad preference records: identical answers / different prompts are errors naming file:line, or
#    skipped and counted under on_bad_record: skip
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
[ ! -d "$tmp/base/checkpoints" ] || fail "checkpoint.save_final: false still wrote a checkpoint"
recipe=examples/dpo/recipe.yaml
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model")

# Learning.
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=learn > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "DPO run"; }
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/rewards/accuracy"' in l]
first, last = ev[0], ev[-1]
print(f"dpo learning: held-out reward accuracy {first['eval/rewards/accuracy']:.3f} -> {last['eval/rewards/accuracy']:.3f}, "
      f"margin {last['eval/rewards/margin']:.3f}; greedy exact match vs chosen {first['eval/accuracy']:.3f} -> {last['eval/accuracy']:.3f}")
assert last["eval/rewards/accuracy"] > 0.9, last
assert last["eval/accuracy"] >= first["eval/accuracy"] + 0.05, (first, last)
assert last["eval/logps/rejected"] < first["eval/logps/rejected"], (first, last)
PY

# Exact resume (frozen reference, then LoRA with adapters off).
resume_check frozen "$recipe" loss,rewards/margin "${common[@]}" --set algorithm.dpo.reference=model
cmp "$tmp/frozen-a/model/model.safetensors" "$tmp/frozen-b/model/model.safetensors" || fail "final weights differ"
lora=(--set 'model.lora={rank: 8, alpha: 16, dropout: 0.1, target_modules: [q_proj, v_proj, up_proj]}' --set optimizer.lr=3e-3)
resume_check lora "$recipe" loss,rewards/margin "${common[@]}" --set algorithm.dpo.reference=adapters "${lora[@]}"
cmp "$tmp/lora-a/model/adapter_model.safetensors" "$tmp/lora-b/model/adapter_model.safetensors" || fail "LoRA adapters differ"
grep -q "adapters switched off" "$tmp/lora-a.log" || fail "the LoRA run did not use the adapters-off reference"
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" "${lora[@]}" --set algorithm.dpo.reference=model --set run.name=lora-copy > "$tmp/lora-copy.log" 2>&1 || { cat "$tmp/lora-copy.log"; fail "LoRA with a frozen copy"; }
"$PT_PYTHON" - "$tmp/lora-a/metrics.jsonl" "$tmp/lora-copy/metrics.jsonl" <<'PY' || fail "adapters-off and frozen-copy references disagree"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f) if '"loss"' in l and "eval/" not in l] for f in sys.argv[1:3])
worst = max(abs(x - y) for x, y in zip(a, b))
print(f"LoRA DPO: adapters-off vs frozen-copy reference, {len(a)} per-step losses, max |diff| {worst:.1e}")
assert len(a) == len(b) == 8 and worst < 1e-5, (a, b)
PY
echo "LoRA DPO peak RSS: adapters-off reference $(col "$tmp/lora-a/metrics.jsonl" peak_memory_gb | awk '{print $NF}') GB, frozen copy $(col "$tmp/lora-copy/metrics.jsonl" peak_memory_gb | awk '{print $NF}') GB"

# Cached reference log-probs.
cached=(--set algorithm.dpo.reference=cached)
resume_check cached "$recipe" loss,rewards/margin "${common[@]}" "${cached[@]}"
[ -f "$tmp/cached-b/reference_logps.json" ] || fail "no reference_logps.json in the run directory"
grep -q "cached reference log-prob pairs read from" "$tmp/cached-b2.log" || fail "the resume recomputed the reference log-probs"
"$PT_PYTHON" - "$tmp/cached-a/metrics.jsonl" "$tmp/frozen-a/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f) if '"loss"' in l and "eval/" not in l] for f in sys.argv[1:3])
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
assert len(a) == len(b) == 8 and worst < 1e-4, (a, b)
print(f"cached vs live frozen reference: max relative loss difference over 8 steps {worst:.1e}")
PY

# Bad preference records.
bad="$tmp/bad.jsonl"
head -n 20 examples/dpo/train.jsonl > "$bad"
echo '{"prompt": [{"role": "user", "content": "Reverse the digits: 123"}], "chosen": [{"role": "assistant", "content": "321"}], "rejected": [{"role": "assistant", "content": "321"}]}' >> "$bad"
echo '{"chosen": [{"role": "user", "content": "Reverse the digits: 12"}, {"role": "assistant", "content": "21"}], "rejected": [{"role": "user", "content": "Reverse the digits: 13"}, {"role": "assistant", "content": "12"}]}' >> "$bad"
head -n 60 examples/dpo/train.jsonl | tail -n 40 >> "$bad"
badrun=(--set 'data.sources=[{name: bad, path: '"$bad"', format: preference}]' --set data.eval_fraction=0 --set data.max_eval_records=0
        --set trainer.eval.every=0 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set trainer.max_steps=2
        --set trainer.global_batch_tokens=256 --set schedule.warmup_steps=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set checkpoint.save_final=false)
set +e
"$POSTTRAIN" run "$recipe" "${common[@]}" "${badrun[@]}" --set run.name=bad > "$tmp/bad.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "an identical pair was accepted"
grep -Eq "bad.jsonl:(21: .*chosen and rejected are identical|22: .*different prompts)" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "no file:line error for a bad pair"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" "${badrun[@]}" --set run.name=skip --set data.on_bad_record=skip > "$tmp/skip.log" 2>&1 || { cat "$tmp/skip.log"; fail "skip run"; }
grep -q "bad.jsonl:21: .*chosen and rejected are identical" "$tmp/skip.log" || { cat "$tmp/skip.log"; fail "identical answers not reported"; }
grep -q "bad.jsonl:22: .*different prompts" "$tmp/skip.log" || { cat "$tmp/skip.log"; fail "different prompts not reported"; }
grep -q '"bad":2' "$tmp/skip.log" || fail "the two bad pairs were not counted"
echo "bad preference records: identical answers and different prompts reported with file:line, skipped and counted"

# A reference of another architecture than the policy is refused.
set +e
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set algorithm.dpo.reference=model \
  --set algorithm.dpo.reference_path="$PWD/tests/assets/models/llama" --set run.name=arch > "$tmp/arch.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a Llama reference for a Qwen2 policy was accepted"
grep -q "is a LlamaForCausalLM but the policy .* is a Qwen2ForCausalLM" "$tmp/arch.log" || { cat "$tmp/arch.log"; fail "unclear architecture refusal"; }
echo "reference of another architecture refused"

# ORPO (reference-free odds ratio + NLL) against the DPO run above, same base and steps: the held-out
# implicit reward margin (beta x mean token log-prob, chosen - rejected) and greedy exact match rise;
# no reference model is loaded; exact resume; refusals of a reference and of a missing NLL term.
orpo=(--set algorithm.dpo.loss=orpo --set algorithm.dpo.nll_weight=1 --set algorithm.dpo.reference=auto)
"$POSTTRAIN" run "$recipe" "${common[@]}" "${orpo[@]}" --set run.name=orpo > "$tmp/orpo.log" 2>&1 || { cat "$tmp/orpo.log"; fail "ORPO run"; }
grep -q "loss orpo is reference-free; no reference model" "$tmp/orpo.log" || fail "ORPO loaded a reference"
"$PT_PYTHON" - "$tmp/orpo/metrics.jsonl" "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/rewards/margin"' in l]
dpo = [json.loads(l) for l in open(sys.argv[2]) if '"eval/accuracy"' in l]
first, last = ev[0], ev[-1]
print(f"orpo learning: held-out implicit reward margin {first['eval/rewards/margin']:.3f} -> {last['eval/rewards/margin']:.3f}, "
      f"reward accuracy {first['eval/rewards/accuracy']:.3f} -> {last['eval/rewards/accuracy']:.3f}; greedy exact match "
      f"{first['eval/accuracy']:.3f} -> {last['eval/accuracy']:.3f} (DPO in the same script: {dpo[-1]['eval/accuracy']:.3f})")
assert last["eval/rewards/margin"] > first["eval/rewards/margin"], (first, last)
assert last["eval/accuracy"] >= first["eval/accuracy"] + 0.1, (first, last)
PY
resume_check orpo-resume "$recipe" loss,rewards/margin,nll "${common[@]}" "${orpo[@]}"
for bad in "algorithm.dpo.reference=model|loss orpo is reference-free" "algorithm.dpo.nll_weight=0|set nll_weight"; do
  if "$POSTTRAIN" run "$recipe" --dry-run "${orpo[@]}" --set "${bad%%|*}" > "$tmp/out" 2>&1; then fail "accepted: ${bad%%|*}"; fi
  grep -q "${bad##*|}" "$tmp/out" || { cat "$tmp/out"; fail "unclear refusal of ${bad%%|*}"; }
done
echo "orpo: refusals of a reference and of nll_weight 0"

# Each reference-based variant through the trainer: at step 1 the policy is the reference, so every
# log-ratio is 0 and the loss has a closed form that depends on the variant and its settings — sigmoid,
# robust and cDPO log 2, hinge 1, IPO 1/(4 beta^2), RPO log 2 + nll_weight x the logged NLL; the chosen
# and rejected rewards are 0. Step 2 (after one update) moves the loss.
for v in "sigmoid|0.6931471805599453|--set algorithm.dpo.loss=sigmoid" "hinge|1.0|--set algorithm.dpo.loss=hinge" \
         "ipo|2.7777777777777777|--set algorithm.dpo.loss=ipo --set algorithm.dpo.beta=0.3" \
         "robust|0.6931471805599453|--set algorithm.dpo.loss=robust --set algorithm.dpo.label_smoothing=0.2" \
         "cdpo|0.6931471805599453|--set algorithm.dpo.label_smoothing=0.1" \
         "rpo|rpo|--set algorithm.dpo.nll_weight=0.5"; do
  IFS='|' read -r name want sets <<<"$v"
  # shellcheck disable=SC2086
  "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set trainer.max_steps=2 --set checkpoint.every=0 \
    --set checkpoint.save_final=false --set algorithm.dpo.reference=model $sets --set run.name="v-$name" > "$tmp/v-$name.log" 2>&1 \
    || { cat "$tmp/v-$name.log"; fail "DPO variant $name"; }
  "$PT_PYTHON" - "$tmp/v-$name/metrics.jsonl" "$name" "$want" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l and "eval/" not in l]
name, want = sys.argv[2], sys.argv[3]
first = rows[0]
want = math.log(2) + 0.5 * first["nll"] if want == "rpo" else float(want)
assert abs(first["loss"] - want) < 1e-4 * max(1, want), (name, first["loss"], want)
assert abs(first["rewards/chosen"]) < 1e-5 and abs(first["rewards/rejected"]) < 1e-5, first
assert abs(rows[1]["loss"] - first["loss"]) > 1e-6, (name, rows)
print(f"dpo {name}: step-1 loss {first['loss']:.6f} (closed form {want:.6f}), step 2 {rows[1]['loss']:.6f}")
PY
done
