#include "train/tp_state.h"

#include "core/error.h"
#include "model/tensor_parallel.h"

namespace pt::train {

namespace {

torch::optim::AdamWParamState* state_of(optim::Optimizer& opt, const at::Tensor& p) {
  auto& st = opt.adamw->state();
  auto it = st.find(p.unsafeGetTensorImpl());
  return it == st.end() ? nullptr : static_cast<torch::optim::AdamWParamState*>(it->second.get());
}

}  // namespace

TpWhole::TpWhole(model::CausalLM& model, optim::Optimizer* opt, bool active, bool keep, bool trainable_only,
                 std::function<bool(const std::string&)> skip)
    : model_(model), active_(active) {
  const auto& group = model.tp_group();
  if (!group || group->size() == 1 || !active_) {
    active_ = false;
    return;
  }
  at::NoGradGuard ng;
  if (opt)
    for (const auto& [n, p] : model.named_parameters(true)) {
      const int dim = model.tp_split_dim(n);
      auto* s = dim >= 0 && !(skip && skip(n)) ? state_of(*opt, p) : nullptr;
      if (!s) continue;
      const at::Tensor avg = s->exp_avg(), sq = s->exp_avg_sq();
      at::Tensor whole_avg = model::tp_gather(avg, dim, group.get()).to(at::kCPU);
      at::Tensor whole_sq = model::tp_gather(sq, dim, group.get()).to(at::kCPU);
      if (!keep) continue;
      s->exp_avg(whole_avg);
      s->exp_avg_sq(whole_sq);
      restore_.push_back([s, avg, sq] {
        s->exp_avg(avg);
        s->exp_avg_sq(sq);
      });
    }
  model.set_tp_whole(true, keep, trainable_only, skip);
}

TpWhole::~TpWhole() {
  if (!active_) return;
  model_.set_tp_whole(false);
  for (auto& r : restore_) r();
}

void place_optimizer_moments(model::CausalLM& model, optim::Optimizer& opt) {
  const auto& group = model.tp_group();
  const bool split = group && group->size() > 1;
  for (const auto& [n, p] : model.named_parameters(true)) {
    auto* s = state_of(opt, p);
    if (!s) continue;
    if (s->exp_avg().device() != p.device()) {
      s->exp_avg(s->exp_avg().to(p.device()));
      s->exp_avg_sq(s->exp_avg_sq().to(p.device()));
    }
    const int dim = split ? model.tp_split_dim(n) : -1;
    if (dim < 0 || s->exp_avg().sizes() == p.sizes()) continue;
    const int64_t whole = p.size(dim) * group->size();
    if (s->exp_avg().dim() != p.dim() || s->exp_avg().size(dim) != whole)
      fail("optimizer state of '{}' has shape [{}]; this run's parameter is [{}] of a whole [{}] along dimension {}", n,
           fmt::join(s->exp_avg().sizes(), ", "), fmt::join(p.sizes(), ", "), whole, dim);
    s->exp_avg(model::tp_slice(s->exp_avg(), dim, *group));
    s->exp_avg_sq(model::tp_slice(s->exp_avg_sq(), dim, *group));
  }
}

}  // namespace pt::train
