#!/usr/bin/env bash
# One-command GPU check. On a machine with an NVIDIA GPU and no internet:
#  build           scripts/gpu/build.sh: torch (headers, CMake package, NCCL) from the local Python,
#                  the C++ dependencies from the system or from .deb files (PT_DEBS, made by
#                  scripts/gpu/fetch_debs.sh) unpacked into a prefix; a no-op when already built;
#  gpu-tests       the GPU-labelled tests (ctest -L gpu): flash varlen attention vs SDPA (logits and
#                  gradients), a bf16-autocast step vs fp32, CUDA RNG state in checkpoints and exact
#                  resume on the GPU, MFU reported;
#  lm-head         bench_lm_head cuda (the vocabulary-padding timing);
#  bench-sft       scripts/bench_sft.sh gpu (transformers (a), (b) vs posttrain (c), MFU) on both
#                  shapes; bench-sft=llama3.2-1b or bench-sft=qwen2.5-0.5b runs one of them;
#  bench-generate  scripts/bench_generate.sh gpu;
#  bench-grpo      scripts/bench_grpo.sh gpu (a GRPO step vs TRL's GRPOTrainer, bf16, 32 prompts x 8);
#  nccl            scripts/gpu/nccl_check.sh: world size 1 and every GPU present, ddp and fsdp
#                  ZeRO-2/3, losses against one GPU, per-step and communication time;
# and writes everything to one report file. Without a GPU it says so and exits 1 before building.
#   scripts/gpu/check.sh [--steps a,b,...] [--budget SECONDS] [REPORT]
#   default: every step, no time limit, gpu-report-<host>-<UTC>.txt
# --budget: the whole check ends within SECONDS of its start: each step runs under a timeout of what
# is left, and a step with under a minute left is skipped, so the report says what ran, what timed
# out and what did not start (a command killed from outside would say nothing for its last step).
# Steps run in the order named. Where one command may run only minutes and the whole loan is short
# (a lent machine: 10 minutes a command, 15 minutes in all, start-up included), split the steps over
# calls on the same warm machine, the issue's targets first; the first call's build is kept and the
# second's build step is a no-op:
#   PT_DEBS=.gpu-debs scripts/gpu/check.sh --steps gpu-tests,bench-sft=llama3.2-1b,lm-head --budget 480 $OUT/report-1.txt
#   PT_DEBS=.gpu-debs scripts/gpu/check.sh --steps bench-sft=qwen2.5-0.5b,nccl,bench-generate --budget 300 $OUT/report-2.txt
# (the second --budget: what the first reply's lease.budget_left_s leaves, less ~40 s).
# Env: PT_PYTHON (a Python whose torch has CUDA; default: the setup venv, else python3),
#      PT_DEBS, BUILD_DIR (default build-gpu), STEPS (timed steps of bench_sft; default 10).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/versions.env"
ALL_STEPS="gpu-tests,lm-head,bench-sft,bench-generate,bench-grpo,nccl"
SFT_PRESETS="llama3.2-1b qwen2.5-0.5b"
steps="$ALL_STEPS"
budget=0
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="${2:?--steps needs a comma-separated list out of $ALL_STEPS}"; shift 2;;
    --budget)
      budget="${2:-}"
      [[ "$budget" =~ ^[1-9][0-9]*$ ]] || { echo "check.sh: --budget needs a whole number of seconds, got '${budget}'" >&2; exit 2; }
      shift 2;;
    --*) echo "check.sh: unknown option '$1' (options: --steps LIST, --budget SECONDS)" >&2; exit 2;;
    *) break;;
  esac
done
for s in ${steps//,/ }; do
  case "$s" in
    bench-sft=*)
      case " $SFT_PRESETS " in *" ${s#bench-sft=} "*) ;; *)
        echo "check.sh: unknown bench_sft preset in '$s' (presets: $SFT_PRESETS; plain bench-sft runs both)" >&2; exit 2;; esac;;
    *) case ",$ALL_STEPS," in *",$s,"*) ;; *) echo "check.sh: unknown step '$s' (steps: $ALL_STEPS; build always runs)" >&2; exit 2;; esac;;
  esac
done
REPORT="${1:-$PWD/gpu-report-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ).txt}"

if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
  echo "no GPU on this machine (nvidia-smi finds no NVIDIA device): nothing to check here." >&2
  echo "Run scripts/gpu/check.sh on a machine with a GPU; on this one, CTest skips the gpu-labelled tests." >&2
  exit 1
fi
source "$ROOT/scripts/python.env"
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
  echo "no GPU usable by torch from $PY (set PT_PYTHON to a Python whose torch has CUDA)" >&2
  exit 1
fi
BUILD_DIR="${BUILD_DIR:-$ROOT/build-gpu}"
: > "$REPORT"
failed=()
say() { echo "$*" | tee -a "$REPORT"; }
skipped=()
run_step() {  # NAME COMMAND... : runs, tees into the report, records a failure and goes on
  local name="$1"; shift
  local limit=()
  if [ "$budget" -gt 0 ]; then
    local left=$(( budget - SECONDS ))
    if [ "$left" -lt 60 ]; then
      say ""; say "== $name: skipped, ${left}s of the ${budget}s budget left"
      skipped+=("$name"); return 0
    fi
    limit=(timeout --kill-after=10 "$(( left - 5 ))")
  fi
  say ""; say "== $name: $*"
  local start=$SECONDS
  "${limit[@]}" "$@" 2>&1 | tee -a "$REPORT"
  local rc=${PIPESTATUS[0]}
  if [ ${#limit[@]} -gt 0 ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
    say "== $name: timed out after $(( SECONDS - start ))s (--budget $budget)"
  else
    say "== $name: exit $rc after $(( SECONDS - start ))s"
  fi
  [ "$rc" -eq 0 ] || failed+=("$name")
  return 0
}

say "# posttrain GPU check ($steps) — $(date -u +%FT%TZ) on $(hostname), $(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null)"
say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
say "python $PY: torch $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"

run_step build env PT_PYTHON="$PY" bash "$ROOT/scripts/gpu/build.sh" "$BUILD_DIR"
# A failed build may leave an older binary behind: nothing is measured with it.
[ ${#failed[@]} -eq 0 ] && [ -x "$BUILD_DIR/posttrain" ] || { say "the build failed: see above"; exit 1; }
export POSTTRAIN="$BUILD_DIR/posttrain" PT_PYTHON="$PY" BUILD_DIR
# In the order given: on a lent machine the first steps named are the ones sure to get time.
for s in ${steps//,/ }; do
  case "$s" in
    gpu-tests) run_step gpu-tests ctest --test-dir "$BUILD_DIR" -L gpu --output-on-failure -V;;
    lm-head) run_step lm-head "$BUILD_DIR/bench/bench_lm_head" cuda;;
    bench-sft) run_step bench-sft env OUT="$BUILD_DIR/bench-sft-gpu.txt" bash "$ROOT/scripts/bench_sft.sh" gpu;;
    bench-sft=*) run_step "$s" env OUT="$BUILD_DIR/bench-sft-${s#bench-sft=}.txt" bash "$ROOT/scripts/bench_sft.sh" "${s#bench-sft=}";;
    bench-generate) run_step bench-generate bash "$ROOT/scripts/bench_generate.sh" gpu;;
    bench-grpo) run_step bench-grpo bash "$ROOT/scripts/bench_grpo.sh" gpu;;
    nccl) run_step nccl bash "$ROOT/scripts/gpu/nccl_check.sh" "$BUILD_DIR";;
  esac
done

say ""
[ ${#skipped[@]} -eq 0 ] || say "GPU check: not started for lack of time: ${skipped[*]}"
if [ ${#failed[@]} -eq 0 ] && [ ${#skipped[@]} -eq 0 ]; then say "GPU check: all steps passed ($steps). Report: $REPORT"; exit 0; fi
[ ${#failed[@]} -eq 0 ] || say "GPU check: failed steps: ${failed[*]}."
say "Report: $REPORT"
exit 1
