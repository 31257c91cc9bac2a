#pragma once
// The log-probability of each document's trained tokens (an answer's log-prob given its prompt),
// summed from the chunked per-token log-probs: the unit DPO and KTO compare.
#include <ATen/ATen.h>

#include "algo/algorithm.h"

namespace pt::algo {

// [num_docs] summed log-probs (0 for documents without trained tokens); with `doc_tokens`, also the
// number of trained tokens of each document.
at::Tensor doc_logps(model::CausalLM& m, const MicroBatch& mb, int64_t ce_chunk, at::Tensor* doc_tokens = nullptr);

// The same under a reference, without gradients: the frozen copy when there is one, else the policy
// with its LoRA adapters switched off.
at::Tensor reference_doc_logps(model::CausalLM* frozen, model::CausalLM& policy, const MicroBatch& mb, int64_t ce_chunk);

}  // namespace pt::algo
