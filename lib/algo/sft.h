#pragma once
// Supervised fine-tuning: cross-entropy on trained (assistant / completion) tokens only.
#include "algo/algorithm.h"

namespace pt::algo {

class Sft : public Algorithm {
 public:
  explicit Sft(int64_t ce_chunk_tokens) : chunk_(ce_chunk_tokens) {}
  LossOut micro_step(model::CausalLM& model, const MicroBatch& mb, double normalizer) override;

 private:
  int64_t chunk_;
};

std::unique_ptr<Algorithm> make_sft(const recipe::Recipe& r);

// Summed CE of the labelled positions of `hidden` [N, H] (positions with label -100 never reach the
// LM head). Shared with evaluation.
at::Tensor labelled_cross_entropy(model::CausalLM& model, const at::Tensor& hidden, const at::Tensor& labels,
                                  int64_t chunk);

}  // namespace pt::algo
