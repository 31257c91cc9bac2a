#include "core/malloc_tuning.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pt {

bool tune_malloc() {
#if defined(__GLIBC__)
  if (std::getenv("GLIBC_TUNABLES")) return false;
  // Setting either also turns off glibc's dynamic threshold, which would otherwise move it again.
  const bool mmap = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return mmap && trim;
#else
  return false;
#endif
}

}  // namespace pt
