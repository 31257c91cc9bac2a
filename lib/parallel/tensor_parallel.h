#pragma once
// The tensor-parallel group of a run (parallel.tensor_parallel): the model's TpGroup over a Comm of
// World's tensor-parallel communicator, and the gradient-norm clipping that counts each split
// parameter's slices once per rank and each replicated parameter once.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "model/tensor_parallel.h"
#include "parallel/options.h"

namespace pt::parallel {

// The model-facing group over World's tensor-parallel ranks (call after World::split_tensor_parallel).
std::shared_ptr<model::TpGroup> make_tp_group(Backend backend, const at::Device& device);

// Clips the gradients of `params` (with whether each is split over `group`) to max_norm (<= 0: no
// clipping) by the norm of the whole model's gradient; returns that norm. Gradients must already
// be final (summed over data-parallel ranks).
double clip_grad_norm_tp(const std::vector<std::pair<at::Tensor, bool>>& params, model::TpGroup& group,
                         double max_norm);

}  // namespace pt::parallel
