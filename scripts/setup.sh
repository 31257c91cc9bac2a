#!/usr/bin/env bash
# Installs everything posttrain needs and configures + builds it. Idempotent: a second run only
# checks and rebuilds what changed.
#   scripts/setup.sh            -> build/ (RelWithDebInfo)
#   BUILD_DIR=... scripts/setup.sh
#   BUILD_TARGETS="posttrain" scripts/setup.sh   (build only these targets; default: everything)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
source "$ROOT/scripts/python.env"  # POSTTRAIN_VENV: where the venv lives
VENV="$POSTTRAIN_VENV"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

DEBS=(build-essential cmake ninja-build ccache pkg-config python3-venv
      libyaml-cpp-dev libfmt-dev libspdlog-dev libcli11-dev catch2 nlohmann-json3-dev
      libsentencepiece-dev libpcre2-dev libutf8proc-dev libopenmpi-dev openmpi-bin libzstd-dev zlib1g-dev zstd
      clang libclang-rt-14-dev)
missing=()
for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A venv outside the checkout, keyed by the torch pin, so fresh clones reuse it.
STAMP="$VENV/.posttrain-$TORCH_VERSION-$TRANSFORMERS_VERSION-$TOKENIZERS_VERSION-$PEFT_VERSION-tb$TENSORBOARD_VERSION-trl$TRL_VERSION-gguf$GGUF_VERSION"
if [ ! -f "$STAMP" ]; then
  echo "[setup] creating Python venv with torch $TORCH_VERSION at $VENV (first time: a few minutes)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION" \
    "tokenizers==$TOKENIZERS_VERSION" "safetensors==$SAFETENSORS_VERSION" "peft==$PEFT_VERSION" \
    "numpy==$NUMPY_VERSION" "tensorboard==$TENSORBOARD_VERSION" "trl==$TRL_VERSION" "gguf==$GGUF_VERSION" jinja2
  touch "$STAMP"
fi
TORCH_CMAKE="$("$VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"

GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" \
    -DPOSTTRAIN_PYTHON="$VENV/bin/python" ${CMAKE_ARGS:-} >/dev/null
fi
# Cache compiles across clones (CI builds a fresh clone each time).
export CCACHE_BASEDIR="$ROOT"
JOBS="${JOBS:-$(nproc)}"
echo "[setup] building in $BUILD_DIR with $JOBS jobs"
TARGETS=(); for t in ${BUILD_TARGETS:-}; do TARGETS+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}"
