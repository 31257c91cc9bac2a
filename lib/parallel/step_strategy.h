#pragma once
// What a training step asks of its parallelism, whatever it is (one rank, data-parallel buckets,
// ZeRO shards, a tensor-parallel group): the trainer's loop calls these and never names which.
#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <string>
#include <utility>
#include <vector>

#include "model/tensor_parallel.h"

namespace pt::parallel {

class StepStrategy {
 public:
  virtual ~StepStrategy() = default;
  virtual void zero_grad() = 0;
  // Around each micro-batch's backward; `last` marks the micro-batch whose gradients complete the update.
  virtual void begin_backward(bool last) { (void)last; }
  virtual void end_backward() {}
  // Gradients complete (reduced over ranks) and clipped to max_norm (<= 0: not clipped); returns
  // the norm before clipping.
  virtual double reduce_and_clip(double max_norm) = 0;
  // After the optimizer step (fsdp: gathers the updated shards).
  virtual void after_step() {}
};

// One data-parallel rank, the whole model or its tensor-parallel slice: gradients are already
// complete after backward; under tensor parallelism the norm sums split parameters' squares over
// the group and counts replicated ones once.
class SingleRank : public StepStrategy {
 public:
  // params: (parameter, split over `tp`); tp: null without tensor parallelism; optimizer: the one
  // stepping them (it clears their gradients).
  SingleRank(std::vector<std::pair<at::Tensor, bool>> params, model::TpGroup* tp, torch::optim::Optimizer& optimizer);
  void zero_grad() override;
  double reduce_and_clip(double max_norm) override;

 private:
  std::vector<std::pair<at::Tensor, bool>> params_;
  model::TpGroup* tp_;
  torch::optim::Optimizer& optimizer_;
};

}  // namespace pt::parallel
