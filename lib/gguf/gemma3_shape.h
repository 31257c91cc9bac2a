#pragma once
// What llama.cpp's gemma3 fixes rather than reads from a GGUF file: which layers are windowed, the
// windowed layers' RoPE base, and the attention scalar. Export refuses a model that differs
// (from_hf.cpp); import writes them into the config (import.cpp).
#include <cstdint>

namespace pt::gguf::gemma3 {

inline constexpr int64_t kGlobalEvery = 6;          // layers 5, 11, 17, ... are global, the rest windowed
inline constexpr double kLocalRopeBase = 10000.0;  // the windowed layers' RoPE base, unscaled

inline bool windowed(int64_t layer) { return (layer + 1) % kGlobalEvery != 0; }

// query_pre_attn_scalar: head_dim, but hidden / heads for the 62-layer 27B.
inline int64_t query_scalar(int64_t layers, int64_t hidden, int64_t heads, int64_t head_dim) {
  return layers == 62 ? hidden / heads : head_dim;
}

}  // namespace pt::gguf::gemma3
