#pragma once
// Per-token log-probabilities through the LM head, chunked: the op DPO, distillation and RL build on.
#include <ATen/ATen.h>

#include "algo/vocab_parallel.h"

namespace pt::algo {

// log softmax(hidden @ weight^T)[label] for every row, as an fp32 [n] tensor with gradients for
// `hidden` and `weight`.
//   hidden: [n, H] (only positions that carry a label: ignored ones are dropped before the head)
//   weight: [V_padded, H]; rows >= vocab_size are padding and get probability 0
//   labels: [n] int64 in [0, vocab_size)
// The forward keeps only the per-row log-sum-exp; the backward recomputes each [chunk, V] block of
// logits, so the [n, V] logits never exist in either pass (one extra LM-head matmul per chunk).
// `shard`: `weight` holds only these rows of a tensor-parallel vocabulary (vocab_parallel.h).
at::Tensor chunked_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                            int64_t vocab_size, int64_t chunk, const VocabShard& shard = {});

// The reference: full logits and log_softmax.
at::Tensor plain_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                          int64_t vocab_size);

// Per-segment sums of per-token values: out[s] = sum of values[i] with segment[i] == s.
at::Tensor segment_sum(const at::Tensor& values, const at::Tensor& segment, int64_t num_segments);

}  // namespace pt::algo
