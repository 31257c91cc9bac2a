#!/usr/bin/env bash
# Checks the offline GPU build route (scripts/gpu/build.sh with PT_DEBS) on this machine as if it
# were a bare GPU box: in a private mount namespace (root, unshare -m; nothing changes outside it)
# every file of the packages in scripts/gpu/debs.env (but the base system's runtime libraries) and
# of Open MPI's dev files is
# covered by /dev/null, so anything the build or the binaries take from the system instead of the
# unpacked prefix fails. Then: build from scratch (no ccache), the libraries' origin (ldd), unit
# tests, the gpu-labelled tests (skipped without a GPU) and a short quickstart run with fsdp ZeRO-3.
#   scripts/gpu/bare_build_check.sh [BUILD_DIR]     default /tmp/posttrain-bare-build; needs .gpu-debs
# (scripts/gpu/fetch_debs.sh). About 9 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
B="${1:-/tmp/posttrain-bare-build}"
DEBS="${PT_DEBS:-$ROOT/.gpu-debs}"
[ -d "$DEBS" ] || { echo "no $DEBS: run scripts/gpu/fetch_debs.sh first" >&2; exit 1; }
if [ -z "${PT_BARE_INSIDE:-}" ]; then
  [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null || { echo "needs root and unshare (a private mount namespace)" >&2; exit 1; }
  exec env PT_BARE_INSIDE=1 unshare -m bash "$0" "$@"
fi
source "$ROOT/scripts/gpu/debs.env"
hidden=0
for p in "${PT_GPU_DEBS[@]}" libopenmpi-dev openmpi-bin; do
  case " ${PT_GPU_DEBS_BASE[*]} " in *" $p "*) continue;; esac
  dpkg -s "$p" > /dev/null 2>&1 || continue
  while read -r f; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then mount --bind /dev/null "$f"; hidden=$((hidden + 1)); fi
  done < <(dpkg -L "$p")
done
echo "[bare] $hidden system files hidden"
rm -rf "$B"
start=$SECONDS
CCACHE_DISABLE=1 PT_DEBS="$DEBS" bash "$ROOT/scripts/gpu/build.sh" "$B" > "$B.log" 2>&1 || { tail -30 "$B.log"; echo "[bare] build FAILED"; exit 1; }
echo "[bare] build from scratch: $((SECONDS - start)) s (log $B.log)"
grep -E "^-- (Found|posttrain:)" "$B.log" | sed 's/^/[bare]   /'
if ldd "$B/posttrain" | grep -E "yaml-cpp|spdlog|fmt|sentencepiece|utf8proc|pcre2" | grep -v "$B/deps/"; then
  echo "[bare] a dependency resolved outside the prefix"; exit 1
fi
echo "[bare] ldd: every C++ dependency from $B/deps"
"$B/tests/pt_tests_base" 2>&1 | grep -E "^(All tests passed|test cases:)" | sed "s/^/[bare] pt_tests_base: /"
"$B/tests/pt_tests_torch" "[loss],[parallel],[fsdp],[checkpoint]" 2>&1 | grep -E "^(All tests passed|test cases:)" | sed "s/^/[bare] pt_tests_torch: /"
ctest --test-dir "$B" -L gpu 2>&1 | grep -E "tests passed|Skipped|Failed"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
"$B/posttrain" run "$ROOT/examples/quickstart/recipe.yaml" --set run.output_dir="$t" --set trainer.max_steps=30 \
  --set parallel.strategy=fsdp --set parallel.zero_stage=3 > "$t/log" 2>&1 || { tail -20 "$t/log"; exit 1; }
echo "[bare] quickstart, fsdp ZeRO-3, 30 steps: $(grep -E 'step +30/30' "$t/log" | sed 's/.*step/step/')"
echo "[bare] passed"
