#include "parallel/step_strategy.h"

#include <torch/nn/utils/clip_grad.h>

#include <limits>

#include "parallel/tensor_parallel.h"

namespace pt::parallel {

SingleRank::SingleRank(std::vector<std::pair<at::Tensor, bool>> params, model::TpGroup* tp,
                       torch::optim::Optimizer& optimizer)
    : params_(std::move(params)), tp_(tp), optimizer_(optimizer) {}

void SingleRank::zero_grad() { optimizer_.zero_grad(); }

double SingleRank::reduce_and_clip(double max_norm) {
  if (tp_) return clip_grad_norm_tp(params_, *tp_, max_norm);
  std::vector<at::Tensor> ps;
  for (const auto& [p, split] : params_) ps.push_back(p);
  return torch::nn::utils::clip_grad_norm_(ps, max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity());
}

}  // namespace pt::parallel
