#!/usr/bin/env bash
# KTO end to end on CPU, on the DPO example's pairs split into unpaired examples (chosen -> label
# true, rejected -> label false) from a short SFT of the quickstart model, against that base in the
# same script:
#  - held-out implicit rewards move the right way (desirable up, undesirable down) and greedy exact
#    match on the desirable completions rises
#  - exact resume after SIGKILL (frozen reference; the KL reference point recomputed per step)
#  - LoRA with the adapters-off reference runs; recipe-only refusals: cached reference, unpaired data
#    with dpo, preference data with kto; a record without a boolean label names file:line
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
sft_base base 80
kto_records "$tmp/kto.jsonl"
recipe=examples/dpo/recipe.yaml
common=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set 'algorithm={name: kto, kto: {beta: 0.5}}'
        --set "data.sources=[{name: kto, path: $tmp/kto.jsonl, format: unpaired}]")
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=learn > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "KTO run"; }
grep -q "kto: reference = frozen copy of" "$tmp/learn.log" || fail "no frozen reference"
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/rewards/chosen"' in l]
tr = [json.loads(l) for l in open(sys.argv[1]) if '"kl"' in l and "eval/kl" not in l]
first, last = ev[0], ev[-1]
print(f"kto learning: held-out implicit reward desirable {first['eval/rewards/chosen']:.3f} -> {last['eval/rewards/chosen']:.3f}, "
      f"undesirable {first['eval/rewards/rejected']:.3f} -> {last['eval/rewards/rejected']:.3f}; greedy exact match on "
      f"desirable completions {first['eval/accuracy']:.3f} -> {last['eval/accuracy']:.3f}; KL reference point (z0) by log line "
      + " ".join(f"{r['kl']:.3f}" for r in tr))
assert last["eval/rewards/chosen"] > first["eval/rewards/chosen"] + 0.2, (first, last)
assert last["eval/rewards/rejected"] < first["eval/rewards/rejected"] - 0.5, (first, last)
assert last["eval/accuracy"] >= first["eval/accuracy"] + 0.1, (first, last)
PY
resume_check resume "$recipe" loss,rewards/chosen,rewards/rejected,kl "${common[@]}"
"$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set run.name=lora --set 'model.lora={rank: 8}' \
  > "$tmp/lora.log" 2>&1 || { cat "$tmp/lora.log"; fail "KTO with LoRA"; }
grep -q "kto: reference = the policy with its LoRA adapters switched off" "$tmp/lora.log" || fail "LoRA reference"

refused() {
  local msg="$1"; shift
  if "$POSTTRAIN" run "$recipe" --dry-run "$@" > "$tmp/out" 2>&1; then cat "$tmp/out"; fail "accepted: $*"; fi
  grep -q "$msg" "$tmp/out" || { cat "$tmp/out"; fail "expected '$msg'"; }
}
refused "'cached' does not apply" "${common[@]}" --set algorithm.kto.reference=cached
refused "unpaired data (format 'unpaired') is only used by algorithm kto" --set 'algorithm={name: sft}' \
  --set "data.sources=[{path: $tmp/kto.jsonl, format: unpaired}]"
refused "algorithm dpo needs preference data, but this source has format 'unpaired'" --set "data.sources=[{path: $tmp/kto.jsonl, format: unpaired}]"
refused "preference data is only used by algorithms dpo and reward_model" --set 'algorithm={name: kto}'
refused "algorithm kto needs format 'unpaired'" --set 'algorithm={name: kto}' --set "data.sources=[{path: examples/quickstart/train.jsonl, format: chat}]"
sed -n 1,20p "$tmp/kto.jsonl" > "$tmp/bad.jsonl"
echo '{"prompt": "Reverse the digits: 12", "completion": "21", "label": "yes"}' >> "$tmp/bad.jsonl"
if "$POSTTRAIN" run "$recipe" "${common[@]}" "${short[@]}" --set run.name=bad --set "data.sources=[{path: $tmp/bad.jsonl, format: unpaired}]" \
  > "$tmp/bad.log" 2>&1; then fail "a string label was accepted"; fi
grep -q "bad.jsonl:21.*label.*expected true (desirable) or false (undesirable)" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "bad label message"; }
echo "kto ok"
