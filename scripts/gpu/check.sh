#!/usr/bin/env bash
# One-command GPU check. On a machine with an NVIDIA GPU and no internet:
#  1. builds posttrain with CUDA by the offline route in the README ("GPU"): torch (headers,
#     CMake package, NCCL) from the local Python, the C++ dependencies from the system or from .deb files
#     unpacked into a prefix (PT_DEBS);
#  2. runs the GPU-labelled tests (ctest -L gpu): flash varlen attention vs SDPA (logits and gradients),
#     a bf16-autocast step vs fp32, CUDA RNG state in checkpoints and exact resume on the GPU, MFU reported;
#  3. runs the benchmarks' GPU presets: scripts/bench_sft.sh gpu (transformers vs posttrain, MFU),
#     scripts/bench_generate.sh gpu, and bench_lm_head cuda (vocabulary padding);
#  4. runs the NCCL path (scripts/gpu/nccl_check.sh): world size 1 and every GPU present, ddp and
#     fsdp ZeRO-2/3, losses against one GPU, per-step and communication time;
# and writes everything to one report file. Without a GPU it says so and exits 1 before building.
#   scripts/gpu/check.sh [REPORT]        default: gpu-report-<host>-<UTC time>.txt
# Env: PT_PYTHON (a Python whose torch has CUDA; default: the setup venv, else python3),
#      PT_DEBS (directory of .deb files for missing C++ dependencies), BUILD_DIR (default build-gpu),
#      STEPS (timed steps of bench_sft; default 10).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/versions.env"
REPORT="${1:-$PWD/gpu-report-$(hostname)-$(date -u +%Y%m%dT%H%M%SZ).txt}"

if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
  echo "no GPU on this machine (nvidia-smi finds no NVIDIA device): nothing to check here." >&2
  echo "Run scripts/gpu/check.sh on a machine with a GPU; on this one, CTest skips the gpu-labelled tests." >&2
  exit 1
fi
VENV_PY="${POSTTRAIN_VENV:-$HOME/.cache/posttrain/venv-torch$TORCH_VERSION}/bin/python"
PY="${PT_PYTHON:-$([ -x "$VENV_PY" ] && echo "$VENV_PY" || echo python3)}"
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
  echo "no GPU usable by torch from $PY (set PT_PYTHON to a Python whose torch has CUDA)" >&2
  exit 1
fi
BUILD_DIR="${BUILD_DIR:-$ROOT/build-gpu}"
: > "$REPORT"
failed=()
say() { echo "$*" | tee -a "$REPORT"; }
step() {  # NAME COMMAND... : runs, tees into the report, records a failure and goes on
  local name="$1"; shift
  say ""; say "== $name: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee -a "$REPORT"
  local rc=${PIPESTATUS[0]}
  say "== $name: exit $rc after $(( SECONDS - start ))s"
  [ "$rc" -eq 0 ] || failed+=("$name")
  return 0
}

say "# posttrain GPU check — $(date -u +%FT%TZ) on $(hostname)"
say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
say "python $PY: torch $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"

prefix="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
if [ -n "${PT_DEBS:-}" ]; then
  deps="$BUILD_DIR/deps"; mkdir -p "$deps"
  for f in "$PT_DEBS"/*.deb; do dpkg -x "$f" "$deps"; done
  prefix="$deps/usr;$prefix"
  export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi
gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
step configure cmake -S "$ROOT" -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DPOSTTRAIN_PYTHON="$PY"
step build cmake --build "$BUILD_DIR" -j "$(nproc)"
[ -x "$BUILD_DIR/posttrain" ] || { say "the build failed: see above"; exit 1; }
step version "$BUILD_DIR/posttrain" version
export POSTTRAIN="$BUILD_DIR/posttrain" PT_PYTHON="$PY" BUILD_DIR
step gpu-tests ctest --test-dir "$BUILD_DIR" -L gpu --output-on-failure -V
step lm-head-padding "$BUILD_DIR/bench/bench_lm_head" cuda
step bench-sft env OUT="$BUILD_DIR/bench-sft-gpu.txt" bash "$ROOT/scripts/bench_sft.sh" gpu
step bench-generate bash "$ROOT/scripts/bench_generate.sh" gpu
step nccl bash "$ROOT/scripts/gpu/nccl_check.sh" "$BUILD_DIR"

say ""
if [ ${#failed[@]} -eq 0 ]; then say "GPU check: all steps passed. Report: $REPORT"; exit 0; fi
say "GPU check: failed steps: ${failed[*]}. Report: $REPORT"
exit 1
