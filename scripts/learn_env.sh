# Shared by scripts/learn_calculator.sh and scripts/learn_guess_number.sh (sourced): the real model,
# the held-out split and the before/after report of an environment-learning run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
cd "$ROOT"
M="$(scripts/fetch_smollm2.sh)"

# learn_split SRC N OUT: OUT/train.jsonl = SRC less its last N records, OUT/test.jsonl = those N.
learn_split() {
  mkdir -p "$3"
  head -n "-$2" "$1" > "$3/train.jsonl"
  tail -n "$2" "$1" > "$3/test.jsonl"
}

# learn_report OUT RUN TITLE: posttrain eval's tables before (the SFT'd model) and after GRPO, and
# the run's sampled reward per step.
learn_report() {
  echo; echo "== $3: the SFT'd model vs the same after GRPO"
  for f in before after; do echo "-- $f"; grep -E "^(task|greedy|sampled)" "$1/$f.txt"; done
  echo "== sampled reward per GRPO step (training data)"
  grep -o '"reward":[0-9.e-]*' "runs/$2/metrics.jsonl" | cut -d: -f2 | awk '{printf "%d:%.2f ", NR, $1} END {print ""}'
}
