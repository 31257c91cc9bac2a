#!/usr/bin/env bash
# The hidden [.gpu] Catch2 cases of pt_tests_torch: flash varlen vs SDPA (logits and gradients),
# bf16 autocast vs fp32, the NCCL communicator at world size 1, ZeRO-3 over a model on the device.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_gpu
: "${PT_TESTS_TORCH:?}"
"$PT_TESTS_TORCH" "[gpu]" -s -r compact
