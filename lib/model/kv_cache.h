#pragma once
// The key/value cache of generation, and the attention input that reads it. The decoder block is
// the same code with and without a cache: it gets either the packed-document input of training
// (model/attention.h) or a KvStep saying where this pass's tokens live in the cache (llama.cpp's
// split between uncached and cached attention inputs).
//
// Layout: one preallocated [slots, Hkv, max_len, D] tensor per layer for K and for V (attention
// reads a sequence's keys as a strided view, no copy). A sequence
// owns a slot from admission to its end; a finished sequence's slot is reused at once by the next
// waiting one (continuous batching). Positions are the sequence's own token positions.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/hf_config.h"

namespace pt::model {

class KvCache {
 public:
  KvCache(const HfConfig& cfg, int64_t slots, int64_t max_len, at::ScalarType dtype, at::Device device);
  static int64_t bytes_needed(const HfConfig& cfg, int64_t slots, int64_t max_len, at::ScalarType dtype);
  int64_t slots() const { return slots_; }
  int64_t max_len() const { return max_len_; }
  at::Tensor& k(int64_t layer) { return k_[static_cast<size_t>(layer)]; }
  at::Tensor& v(int64_t layer) { return v_[static_cast<size_t>(layer)]; }
  // Copies the first `len` positions of slot `from` into each of `to` (a shared prompt's prefill).
  void fork(int64_t from, const std::vector<int64_t>& to, int64_t len);

 private:
  int64_t slots_, max_len_;
  std::vector<at::Tensor> k_, v_;
};

// One forward pass over a cache: every document of the packed input is the continuation of the
// sequence in `doc_slot[d]`, starting at position `doc_start[d]` (the tokens before it are cached).
struct KvStep {
  KvCache* cache = nullptr;
  std::vector<int64_t> doc_slot, doc_start, doc_len;
  // Derived by prepare(): per-token slot and position, and for a pure decode step (one new token
  // per document) the key mask [B, 1, 1, T] over the longest context T.
  at::Tensor token_slot, token_pos, decode_slots, decode_mask;
  at::Tensor window_mask;  // decode_mask narrowed to a sliding window, built by the first layer that needs it
  bool decode = false, contiguous_slots = false;
  int64_t max_context = 0;
  void prepare(at::Device device);
};

// Writes this pass's k/v ([N, Hkv, D]) into layer `layer` of the cache, then attends q ([N, Hq, D])
// to each sequence's cached keys causally (the last `window` of them when window > 0). Returns [N, Hq, D].
at::Tensor cached_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, KvStep& step, int64_t layer,
                            double scale, int64_t window = 0);

}  // namespace pt::model
