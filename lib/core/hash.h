#pragma once
// FNV-1a 64: a stable, platform-independent content hash (recipe hashes, data-split salts).
#include <cstdint>
#include <string_view>

namespace pt {

inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace pt
