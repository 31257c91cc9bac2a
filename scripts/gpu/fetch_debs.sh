#!/usr/bin/env bash
# Downloads (never installs) the Debian packages a GPU machine without internet lacks to build
# posttrain: the C++ dependencies' headers, CMake/pkg-config files and shared libraries, Catch2 for
# the tests and pkgconf itself. Run it on a machine that reaches the Debian registry, bring the
# directory along (about 5 MB) and point scripts/gpu/check.sh at it with PT_DEBS=DIR; check.sh
# unpacks them into a prefix of its build dir (dpkg -x, never into /) and points CMake, pkg-config
# and the loader there. MPI is left out on purpose: the build makes it optional, and a GPU check on
# one machine launches no MPI ranks.
#   scripts/gpu/fetch_debs.sh [DIR]      default: .gpu-debs in the checkout (ignored by git)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/.gpu-debs}"
PKGS=(libyaml-cpp-dev libyaml-cpp0.7 libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 libcli11-dev catch2
      nlohmann-json3-dev libsentencepiece-dev libsentencepiece0 libpcre2-dev libpcre2-8-0 libutf8proc-dev
      libutf8proc2 libzstd-dev libzstd1 zlib1g-dev zlib1g pkgconf pkgconf-bin libpkgconf3)
command -v apt-get > /dev/null || { echo "fetch_debs.sh: apt-get not found (run it on a Debian machine)" >&2; exit 1; }
mkdir -p "$DIR"
cd "$DIR"
if ! apt-get download "${PKGS[@]}" > /dev/null; then
  echo "fetch_debs.sh: apt-get download failed (is the registry reachable? try apt-get update)" >&2
  exit 1
fi
echo "fetched ${#PKGS[@]} packages into $DIR ($(du -sh . | cut -f1)); on the GPU machine:"
echo "  PT_DEBS=$DIR scripts/gpu/check.sh"
