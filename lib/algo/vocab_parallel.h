#pragma once
// The chunked LM-head losses over a vocabulary split across a tensor-parallel group (Megatron's
// vocab-parallel cross-entropy): each rank forms the logits of its own rows only; the row max, the
// sum of exponentials and the target logit are combined over the group, so no rank ever holds a
// [chunk, V] block of the whole vocabulary. Results and hidden-state gradients are the same on every
// rank; each rank gets the gradient of its own weight rows.
#include <ATen/ATen.h>

#include "model/tensor_parallel.h"

namespace pt::model {
class CausalLM;
}

namespace pt::algo {

// Which rows of the vocabulary the LM-head weight passed to a loss holds.
struct VocabShard {
  model::TpGroup* group = nullptr;  // null or size 1: the whole vocabulary
  int64_t offset = 0;               // the global id of the weight's first row
  bool split() const { return group && group->size() > 1; }
};
// The rows the model's lm_head_weight() holds.
VocabShard vocab_shard_of(const model::CausalLM& model);

// As chunked_cross_entropy (losses.h) with `weight` = this rank's rows.
at::Tensor vocab_parallel_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                        int64_t vocab_size, int64_t chunk, const at::Tensor& weights,
                                        const VocabShard& shard);
// As chunked_logprobs (logprobs.h) with `weight` = this rank's rows.
at::Tensor vocab_parallel_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                   int64_t vocab_size, int64_t chunk, const VocabShard& shard);

}  // namespace pt::algo
