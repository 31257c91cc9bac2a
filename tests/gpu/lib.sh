# Sourced by the GPU-labelled tests. Exit code 77 is CTest's "skipped" (SKIP_RETURN_CODE): a machine
# without a visible GPU skips these tests instead of passing them vacuously.
require_gpu() {
  : "${POSTTRAIN:?}"
  if ! "$POSTTRAIN" version | grep -Eq "devices visible: [1-9]"; then
    echo "SKIPPED: no CUDA device visible to posttrain ($("$POSTTRAIN" version | grep '^cuda'))"
    exit 77
  fi
}
