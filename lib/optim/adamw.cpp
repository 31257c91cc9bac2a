#include "optim/adamw.h"

#include <torch/serialize.h>

#include "core/error.h"

namespace pt::optim {

Optimizer make_optimizer(const OptimizerOptions& o, model::CausalLM& model) {
  std::vector<at::Tensor> decay, no_decay;
  for (auto& [name, p] : model.named_parameters(true)) (model.is_decay_param(name) ? decay : no_decay).push_back(p);
  return make_optimizer(o, std::move(decay), std::move(no_decay));
}

Optimizer make_optimizer(const OptimizerOptions& o, std::vector<at::Tensor> decay, std::vector<at::Tensor> no_decay) {
  if (o.name != "adamw") fail("optimizer.name: unknown optimizer '{}' (available: adamw)", o.name);
  if (o.betas.size() != 2) fail("optimizer.betas: expected [beta1, beta2], got {} values", o.betas.size());
  if (decay.empty() && no_decay.empty()) fail("the model has no trainable parameters");
  auto base = torch::optim::AdamWOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto with_decay = std::make_unique<torch::optim::AdamWOptions>(base);
  with_decay->weight_decay(o.weight_decay);
  auto without = std::make_unique<torch::optim::AdamWOptions>(base);
  without->weight_decay(0.0);
  // Group order is fixed (decay, then no-decay) so saved optimizer state maps back onto it.
  groups.emplace_back(decay, std::move(with_decay));
  groups.emplace_back(no_decay, std::move(without));
  Optimizer out;
  out.num_decay = static_cast<int64_t>(decay.size());
  out.num_no_decay = static_cast<int64_t>(no_decay.size());
  out.adamw = std::make_unique<torch::optim::AdamW>(std::move(groups), base);
  return out;
}

void Optimizer::set_lr(double lr) {
  for (auto& g : adamw->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

void Optimizer::save(const std::string& file) const {
  torch::serialize::OutputArchive ar;
  adamw->save(ar);
  ar.save_to(file);
}

void Optimizer::load(const std::string& file) {
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(file);
    adamw->load(ar);
  } catch (const c10::Error& e) {
    fail("{}: cannot load the optimizer state: {}", file, e.what_without_backtrace());
  }
}

}  // namespace pt::optim
