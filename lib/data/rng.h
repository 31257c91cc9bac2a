#pragma once
// Counter-based randomness: every draw is a pure function of (seed, purpose, counter), so the data
// order is reproducible from a handful of integers in a checkpoint and identical on every platform
// (std:: distributions and std::shuffle are implementation-defined).
#include <cstdint>
#include <numeric>
#include <vector>

namespace pt::data {

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) { return mix64(mix64(mix64(a) ^ b) ^ c); }
inline double u01(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Fisher-Yates over 0..n-1 driven by hash3(seed, i, 0); unbiased by rejection.
inline std::vector<uint32_t> permutation(size_t n, uint64_t seed) {
  std::vector<uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  for (size_t i = n; i > 1; --i) {
    const uint64_t bound = i, limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r, k = 0;
    do r = hash3(seed, i, k++);
    while (r >= limit);
    std::swap(p[i - 1], p[r % bound]);
  }
  return p;
}

}  // namespace pt::data
