#include "optim/adamw.h"

#include <algorithm>

#include <torch/serialize.h>

#include "core/error.h"

namespace pt::optim {

std::unique_ptr<torch::optim::AdamWParamState> new_adamw_state(const at::Tensor& p, int64_t step, bool amsgrad) {
  auto s = std::make_unique<torch::optim::AdamWParamState>();
  s->step(step);
  s->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
  s->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
  if (amsgrad) s->max_exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
  return s;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable(true);
    loss = closure();
  }
  at::NoGradGuard no_grad;
  // One fused call per device and dtype, as the kernel's CUDA form requires.
  struct Batch {
    at::Device device;
    at::ScalarType dtype;
    std::vector<at::Tensor> p, g, m, v, vmax, steps;
  };
  // The kernel walks each tensor as one flat range: a strided one (none of ours; a user's custom
  // head could be) steps as a contiguous copy that is written back.
  std::vector<std::pair<at::Tensor, at::Tensor>> write_back;
  auto dense = [&](const at::Tensor& t) {
    if (t.is_contiguous()) return t;
    at::Tensor c = t.contiguous();
    write_back.emplace_back(t, c);
    return c;
  };
  for (auto& group : param_groups_) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    std::vector<Batch> batches;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      PT_CHECK(!p.grad().is_sparse(), "AdamW: sparse gradient for a {} parameter", p.sizes());
      auto& slot = state_[p.unsafeGetTensorImpl()];
      if (!slot) slot = new_adamw_state(p, 0, o.amsgrad());
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      auto it = std::find_if(batches.begin(), batches.end(),
                             [&](const Batch& b) { return b.device == p.device() && b.dtype == p.scalar_type(); });
      if (it == batches.end()) it = batches.insert(batches.end(), Batch{p.device(), p.scalar_type()});
      it->p.push_back(dense(p));
      it->g.push_back(p.grad().contiguous());
      it->m.push_back(dense(s.exp_avg()));
      it->v.push_back(dense(s.exp_avg_sq()));
      if (o.amsgrad()) it->vmax.push_back(dense(s.max_exp_avg_sq()));
      it->steps.push_back(at::full({}, static_cast<double>(s.step()), p.options().dtype(at::kFloat)));
    }
    for (auto& b : batches)
      at::_fused_adamw_(b.p, b.g, b.m, b.v, b.vmax, b.steps, o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()),
                        o.weight_decay(), o.eps(), o.amsgrad(), /*maximize=*/false);
  }
  for (auto& [t, c] : write_back) t.copy_(c);
  return loss;
}

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
  out.adamw = std::make_unique<FusedAdamW>(std::move(groups), base);
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
  // Each moment on its parameter's device, wherever the state was saved (a CPU checkpoint resumed
  // on a GPU, or the other way): every optimizer this process loads, the policy's and PPO's critic's.
  auto& st = adamw->state();
  for (auto& group : adamw->param_groups())
    for (auto& p : group.params()) {
      auto it = st.find(p.unsafeGetTensorImpl());
      if (it == st.end()) continue;
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      if (s.exp_avg().device() == p.device()) continue;
      s.exp_avg(s.exp_avg().to(p.device()));
      s.exp_avg_sq(s.exp_avg_sq().to(p.device()));
      if (s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(s.max_exp_avg_sq().to(p.device()));
    }
}

}  // namespace pt::optim
