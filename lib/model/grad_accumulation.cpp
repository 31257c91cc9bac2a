#include "model/grad_accumulation.h"

#include <torch/csrc/autograd/variable.h>

namespace pt::model {
namespace {
thread_local bool open_ = false;
}

GradAccumulationScope::GradAccumulationScope() : prev_(open_) { open_ = true; }
GradAccumulationScope::~GradAccumulationScope() { open_ = prev_; }

bool may_accumulate_into(const at::Tensor& param) {
  if (!open_ || !param.defined() || !param.requires_grad() || !param.is_leaf()) return false;
  return torch::autograd::impl::hooks(param).empty() && !torch::autograd::impl::post_acc_grad_hooks(param);
}

Accumulated accumulate_into_grad(const at::Tensor& param, at::Tensor g, double scale) {
  at::Tensor& grad = param.mutable_grad();
  if (!grad.defined()) {
    if (scale != 1.0) g.mul_(scale);
    grad = std::move(g);
    return Accumulated::kTaken;
  }
  if (grad.is_sparse() || grad.sizes() != g.sizes() || grad.scalar_type() != g.scalar_type() ||
      grad.device() != g.device())
    return Accumulated::kRefused;
  grad.add_(g, scale);
  return Accumulated::kAdded;
}

bool sparse_lookup_grad_ok(const at::Tensor& weight) {
  if (!open_ || !at::GradMode::is_enabled() || !weight.requires_grad() || !weight.is_leaf()) return false;
  const at::Tensor& grad = weight.grad();
  return grad.defined() && grad.layout() == at::kStrided && grad.sizes() == weight.sizes();
}

}  // namespace pt::model
