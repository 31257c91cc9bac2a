#!/usr/bin/env bash
# Downloads (never installs) the Debian packages a GPU machine without internet lacks to build
# posttrain: the C++ dependencies' headers, CMake/pkg-config files and shared libraries, Catch2 for
# the tests and pkgconf itself. Run it on a machine that reaches the Debian registry, bring the
# directory along (about 5 MB) and point scripts/gpu/check.sh at it with PT_DEBS=DIR;
# scripts/gpu/build.sh unpacks them into a prefix of its build dir (never into /) and points CMake
# and pkg-config there. The list is scripts/gpu/debs.env. MPI is left out on purpose: the build makes it optional, and a GPU check on
# one machine launches no MPI ranks.
#   scripts/gpu/fetch_debs.sh [DIR]      default: .gpu-debs in the checkout (ignored by git)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/.gpu-debs}"
source "$ROOT/scripts/gpu/debs.env"
command -v apt-get > /dev/null || { echo "fetch_debs.sh: apt-get not found (run it on a Debian machine)" >&2; exit 1; }
mkdir -p "$DIR"
cd "$DIR"
if ! apt-get download "${PT_GPU_DEBS[@]}" > /dev/null; then
  echo "fetch_debs.sh: apt-get download failed (is the registry reachable? try apt-get update)" >&2
  exit 1
fi
echo "fetched ${#PT_GPU_DEBS[@]} packages into $DIR ($(du -sh . | cut -f1)); on the GPU machine:"
echo "  PT_DEBS=$DIR scripts/gpu/check.sh"
