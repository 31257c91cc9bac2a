#pragma once
// The one input layout every attention backend consumes: B rows of T tokens flattened to N = B*T,
// each row holding several documents. Position ids restart at 0 per document and cu_seqlens are
// the cumulative document boundaries over the flattened tokens (padding at a row end is its own
// document), so no token ever attends across a document boundary.
#include <ATen/ATen.h>

#include <vector>

namespace pt::model {

struct PackedInput {
  at::Tensor input_ids;     // [N] int64
  at::Tensor position_ids;  // [N] int64
  at::Tensor cu_seqlens;    // [D+1] int32, starts at 0, ends at N
  int64_t max_seqlen = 0;   // longest document
  // Shared prefixes (an RL update's G completions of one prompt read the prompt once): prefix_doc[d]
  // is the document whose tokens document d sees in full before its own, or -1. That document lies
  // earlier in the layout and d's position ids continue its positions; it has no prefix itself.
  // Only attention reads this (labels stay inside each document). Empty: no document has one.
  std::vector<int32_t> prefix_doc;

  // Documents given one by one (each is one packed "row" of several documents).
  static PackedInput from_documents(const std::vector<std::vector<int64_t>>& docs, at::Device device = at::kCPU);
  int64_t num_tokens() const { return input_ids.size(0); }
  std::vector<int64_t> boundaries() const;  // cu_seqlens on the host
  bool has_prefixes() const;
};

}  // namespace pt::model
