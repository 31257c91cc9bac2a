#!/usr/bin/env bash
# Distillation example, end to end on CPU: SFT the quickstart model into a teacher, then distill a
# random-init student about half its size; prints the student-teacher KL and exact match by step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
"$PT" run examples/quickstart/recipe.yaml --set run.name=distill-teacher --set trainer.max_steps=100 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --resume never --force 2>&1 | grep "eval at" |
  sed 's/^/teacher: /'
"$PT" run examples/distill/recipe.yaml --resume never --force "$@" 2>&1 | tee runs/distill.log
echo; echo "== held-out student-teacher KL and greedy exact match of the student, by step"
grep -o 'eval at step [0-9]*:.*' runs/distill.log |
  sed -E 's/eval at step ([0-9]+):.*eval\/kl ([0-9.e-]+).*eval\/accuracy ([0-9.e-]+).*/  step \1: KL \2, exact match \3/'
