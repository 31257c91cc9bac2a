#!/usr/bin/env bash
# Offline build of posttrain for a GPU machine that has Python torch (with CUDA) but no internet
# and maybe none of the C++ dependencies: the route of ../shared/GPU-BUILD.md as one script. It also
# runs on a CPU machine (the CUDA paths compile against the wheel either way), which is how it is
# checked without a GPU.
#  - torch (headers, CMake package, CUDA and NCCL libraries) comes from the Python in PT_PYTHON
#    (default: the setup venv, else python3);
#  - with PT_DEBS=DIR (made by scripts/gpu/fetch_debs.sh), the .deb files there are unpacked
#    (dpkg-deb -x, or ar + tar where dpkg is missing) into BUILD_DIR/deps (never into /). Debian's .pc files hardcode prefix=/usr, so their
#    paths are rewritten to the prefix; pkgconf comes from the same files when the machine has no
#    pkg-config. Nothing is exported to the environment: the binaries find the unpacked libraries
#    through the RPATH CMake gives every library linked from outside the system directories.
#   scripts/gpu/build.sh [BUILD_DIR]     default: $BUILD_DIR, else build-gpu in the checkout
# Prints the build directory on its last line of stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/versions.env"
BUILD_DIR="${1:-${BUILD_DIR:-$ROOT/build-gpu}}"
BUILD_DIR="$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)"
source "$ROOT/scripts/python.env"
log() { echo "[gpu/build] $*" >&2; }

prefix="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2> /dev/null)" || {
  log "no torch in $PY (set PT_PYTHON to a Python with torch $TORCH_VERSION)"; exit 1; }
pkg_config="$(command -v pkg-config || true)"
[ -n "$pkg_config" ] && [ -x "$pkg_config" ] || pkg_config=""
if [ -n "${PT_DEBS:-}" ]; then
  debs=("$PT_DEBS"/*.deb)
  [ -e "${debs[0]}" ] || { log "PT_DEBS=$PT_DEBS holds no .deb files (make them with scripts/gpu/fetch_debs.sh)"; exit 1; }
  deps="$BUILD_DIR/deps"
  stamp="$deps/.unpacked"
  listing="$(cd "$PT_DEBS" && ls -l -- *.deb | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2> /dev/null)" != "$listing" ]; then
    rm -rf "$deps"; mkdir -p "$deps"
    have_dpkg=0; command -v dpkg-deb > /dev/null && have_dpkg=1
    for f in "${debs[@]}"; do
      if [ "$have_dpkg" -eq 1 ]; then dpkg-deb -x "$f" "$deps"
      else  # a .deb is an ar archive around data.tar.{xz,zst,gz}
        member="$(ar t "$f" | grep '^data\.tar')"
        case "$member" in *.xz) z=-J;; *.zst) z=--zstd;; *.gz) z=-z;; *) z=;; esac
        ar p "$f" "$member" | tar -x $z -f - -C "$deps"
      fi
    done
    # prefix=/usr, libdir=/usr/lib/..., includedir=/usr/include in Debian's .pc files -> the prefix.
    find "$deps" -name '*.pc' -path '*pkgconfig*' -exec sed -i -E "s#^([A-Za-z_]+)=/usr(/|\$)#\1=$deps/usr\2#" {} +
    echo "$listing" > "$stamp"
    log "unpacked ${#debs[@]} packages into $deps"
  fi
  prefix="$deps/usr;$prefix"
  if [ -z "$pkg_config" ] && [ -x "$deps/usr/bin/pkgconf" ]; then
    # The unpacked pkgconf needs its libpkgconf from the prefix; only pkgconf gets that path.
    mkdir -p "$deps/bin"
    cat > "$deps/bin/pkg-config" << EOF
#!/bin/sh
LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$deps/usr/bin/pkgconf" "\$@"
EOF
    chmod +x "$deps/bin/pkg-config"
    pkg_config="$deps/bin/pkg-config"
  fi
fi
# Named explicitly: CMake's find_program would look in the prefixes' bin/ (the unpacked pkgconf,
# which cannot load its library from there) before PATH.
[ -n "$pkg_config" ] || { log "no pkg-config here: give PT_DEBS (scripts/gpu/fetch_debs.sh brings pkgconf)"; exit 1; }

gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
log "configure: $BUILD_DIR (CMAKE_PREFIX_PATH=$prefix)"
cmake -S "$ROOT" -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DPOSTTRAIN_PYTHON="$PY" -DPKG_CONFIG_EXECUTABLE="$pkg_config" ${PT_CMAKE_ARGS:-} >&2
log "build: -j $(nproc)"
cmake --build "$BUILD_DIR" -j "$(nproc)" >&2
"$BUILD_DIR/posttrain" version >&2
echo "$BUILD_DIR"
