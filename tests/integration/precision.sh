#!/usr/bin/env bash
# trainer.precision: bf16 on the CPU — bf16 autocast with fp32 master weights, the mixed precision a
# GPU step runs — end to end on the quickstart fixtures:
#  - SFT: per-step losses within 2% of the fp32 run's, the loss falls, and exact resume after SIGKILL
#    inside a step (bf16 GEMMs are as deterministic as fp32 ones on the CPU);
#  - DPO with a frozen reference (log-probs whose backward recomputes the logits), distillation (the
#    teacher's and the student's heads under autocast): per-step losses near the fp32 run's, DPO's
#    exact resume too;
#  - GRPO: rollouts decode under autocast as well, so the trainer's log-probs match the rollout's as
#    closely as in fp32 (fp32 rollouts against bf16 training gave 6.5e-3 per token); exact resume;
#  - the LM head really ran in bf16: the losses are not bit-identical to fp32's.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
bf16=(--set trainer.precision=bf16)

# close NAME A_DIR B_DIR KEY TOL: the 8 per-step values of KEY in the two runs agree within TOL
# (relative to the larger magnitude, or absolute below 1) and are not all identical.
close() {
  "$PT_PYTHON" - "$tmp/$2/metrics.jsonl" "$tmp/$3/metrics.jsonl" "$4" "$5" "$1" <<'PY'
import json, math, sys
a, b = ([json.loads(l)[sys.argv[3]] for l in open(f) if f'"{sys.argv[3]}"' in l and "eval/" not in l] for f in sys.argv[1:3])
tol, name = float(sys.argv[4]), sys.argv[5]
assert len(a) == len(b) == 8, (a, b)
worst = max(abs(x - y) / max(1.0, abs(x), abs(y)) for x, y in zip(a, b))
print(f"{name}: bf16 vs fp32 {sys.argv[3]} over 8 steps: worst difference {worst:.2e} (tolerance {tol}); "
      f"fp32 {a[0]:.4f} -> {a[-1]:.4f}, bf16 {b[0]:.4f} -> {b[-1]:.4f}")
assert all(math.isfinite(x) for x in b), b
assert worst <= tol, (a, b)
assert a != b, "bf16 gave the fp32 run's exact values: autocast did not run"
PY
}

# SFT.
q=examples/quickstart/recipe.yaml
"$POSTTRAIN" run "$q" "${short[@]}" --set run.output_dir="$tmp" --set run.name=sft-fp32 > "$tmp/sft-fp32.log" 2>&1 || { cat "$tmp/sft-fp32.log"; fail "fp32 SFT"; }
resume_check sft-bf16 "$q" loss,grad_norm --set run.output_dir="$tmp" "${bf16[@]}"
close sft sft-fp32 sft-bf16-a loss 2e-2
# What attention ran, from the run's closing line: bf16 inputs under autocast, fp32 without it.
grep -q "attention ran: sdpa on BFloat16: [0-9]* calls$" "$tmp/sft-bf16-a.log" || { grep "attention ran" "$tmp/sft-bf16-a.log"; fail "bf16 run: attention did not run on bf16 inputs"; }
grep -q "attention ran: sdpa on Float: [0-9]* calls$" "$tmp/sft-fp32.log" || { grep "attention ran" "$tmp/sft-fp32.log"; fail "fp32 run: attention not on fp32 inputs alone"; }
"$PT_PYTHON" -c 'import json,sys; l=[json.loads(x)["loss"] for x in open(sys.argv[1]) if "\"loss\"" in x]; assert l[-1] < l[0] - 0.5, l' "$tmp/sft-bf16-a/metrics.jsonl"

# DPO from a short SFT base, frozen reference.
sft_base base 80
dpo=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set algorithm.dpo.reference=model)
"$POSTTRAIN" run examples/dpo/recipe.yaml "${short[@]}" "${dpo[@]}" --set run.name=dpo-fp32 > "$tmp/dpo-fp32.log" 2>&1 || { cat "$tmp/dpo-fp32.log"; fail "fp32 DPO"; }
resume_check dpo-bf16 examples/dpo/recipe.yaml loss,rewards/margin "${dpo[@]}" "${bf16[@]}"
close dpo dpo-fp32 dpo-bf16-a loss 2e-2

# Distillation onto the random-init student, the SFT base as teacher.
dis=(--set run.output_dir="$tmp" --set algorithm.distill.teacher="$tmp/base/model")
for p in fp32 bf16; do
  "$POSTTRAIN" run examples/distill/recipe.yaml "${short[@]}" "${dis[@]}" --set trainer.precision=$p --set run.name=distill-$p > "$tmp/distill-$p.log" 2>&1 || { cat "$tmp/distill-$p.log"; fail "$p distillation"; }
done
close distill distill-fp32 distill-bf16 loss 2e-2

# GRPO: rollouts and the policy's log-probs both under autocast.
grpo=(--set run.output_dir="$tmp" --set model.path="$tmp/base/model" --set checkpoint.save_final=false)
"$POSTTRAIN" run examples/grpo/recipe.yaml "${short[@]}" "${grpo[@]}" --set run.name=grpo-fp32 > "$tmp/grpo-fp32.log" 2>&1 || { cat "$tmp/grpo-fp32.log"; fail "fp32 GRPO"; }
resume_check grpo-bf16 examples/grpo/recipe.yaml loss,reward "${grpo[@]}" "${bf16[@]}"
"$PT_PYTHON" - "$tmp/grpo-fp32/metrics.jsonl" "$tmp/grpo-bf16-a/metrics.jsonl" <<'PY'
import json, math, sys
a, b = ([json.loads(l) for l in open(f) if '"logprob_mismatch"' in l] for f in sys.argv[1:3])
ma, mb = (max(r["logprob_mismatch"] for r in x) for x in (a, b))
print(f"grpo: trainer/rollout log-prob mismatch per token, worst step: fp32 {ma:.2e}, bf16 {mb:.2e}; "
      f"reward bf16 {b[0]['reward']:.3f} -> {b[-1]['reward']:.3f}")
assert len(b) == 8 and all(math.isfinite(r["loss"]) for r in b), b
assert ma < 1e-4 and mb < 1e-3, (ma, mb)
PY
