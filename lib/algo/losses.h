#pragma once
// Pure loss functions, unit-tested against plain formulations.
#include <ATen/ATen.h>

#include "algo/vocab_parallel.h"

namespace pt::algo {

// Sum over positions of -log softmax(hidden @ weight^T)[label] (times the position's weight when
// `weights` is given), computed `chunk` rows at a time.
//   hidden: [n, H] (only labelled positions: ignored ones are dropped before the LM head)
//   weight: [V_padded, H]; rows >= vocab_size are padding and get probability 0
//   labels: [n] int64 in [0, vocab_size)
//   weights: [n] fp32 loss weights, or undefined (all 1)
// The gradients for hidden and weight are formed chunk by chunk during the forward pass, so the
// [n, V] logits never exist at once: peak extra memory is one [chunk, V] block plus dW. Logits and
// the softmax are fp32 whatever the input dtype.
// `shard`: `weight` holds only these rows of a tensor-parallel vocabulary (vocab_parallel.h).
at::Tensor chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                 int64_t vocab_size, int64_t chunk, const at::Tensor& weights = {},
                                 const VocabShard& shard = {});

// The reference: full logits, at::cross_entropy per position, weighted, summed.
at::Tensor plain_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                               int64_t vocab_size, const at::Tensor& weights = {});

}  // namespace pt::algo
