#pragma once
// Supervised fine-tuning: cross-entropy on trained (assistant / completion) tokens only.
#include "algo/algorithm.h"

namespace pt::algo {

class Sft : public Algorithm {
 public:
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;
  bool loss_is_token_nll() const override { return true; }
};

std::unique_ptr<Algorithm> make_sft(const recipe::Recipe& r);

// Summed CE of the labelled positions of `hidden` [N, H] (ignored positions never reach the LM
// head). Shared with evaluation and distillation.
at::Tensor labelled_cross_entropy(model::CausalLM& model, const at::Tensor& hidden, const MicroBatch& mb,
                                  int64_t chunk);

}  // namespace pt::algo
