#pragma once
// AdamW (decoupled weight decay) over two parameter groups: weights that decay and the norms and
// biases that never do. torch::optim::AdamW's options, state and checkpoint format; its step is
// ATen's fused kernel (what torch.optim.AdamW(fused=True) runs): one pass over each tensor, where
// libtorch's step makes two fresh parameter-sized tensors (sqrt, then the division) in ~7 passes.
#include <memory>
#include <string>

#include <torch/optim/adamw.h>

#include "model/causal_lm.h"
#include "optim/options.h"

namespace pt::optim {

class FusedAdamW final : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// A parameter's AdamW state as libtorch's AdamW makes it on the first step: zero moments shaped like
// `p` (its memory format kept), the step count given (non-zero when a sharded checkpoint restores
// moments into it).
std::unique_ptr<torch::optim::AdamWParamState> new_adamw_state(const at::Tensor& p, int64_t step, bool amsgrad);

struct Optimizer {
  std::unique_ptr<torch::optim::AdamW> adamw;
  int64_t num_decay = 0, num_no_decay = 0;  // parameter tensors per group
  void set_lr(double lr);
  void save(const std::string& file) const;
  void load(const std::string& file);
};

Optimizer make_optimizer(const OptimizerOptions& o, model::CausalLM& model);
// Over given tensors per group (what a data-parallel strategy hands the optimizer: shards under fsdp).
Optimizer make_optimizer(const OptimizerOptions& o, std::vector<at::Tensor> decay, std::vector<at::Tensor> no_decay);

}  // namespace pt::optim
