#include "algo/ppo_losses.h"

#include "core/error.h"

namespace pt::algo {

Gae gae(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma, double lam) {
  PT_CHECK(token_rewards.dim() == 2 && values.sizes() == token_rewards.sizes() && mask.sizes() == values.sizes(),
           "gae: rewards, values and mask must be [B, T] alike");
  const int64_t T = values.size(1);
  const at::Tensor m = mask.to(values.scalar_type());
  at::Tensor next_value = at::zeros({values.size(0)}, values.options());
  at::Tensor next_adv = at::zeros_like(next_value);
  std::vector<at::Tensor> adv(static_cast<size_t>(T));
  for (int64_t t = T - 1; t >= 0; --t) {
    const at::Tensor mt = m.select(1, t), vt = values.select(1, t);
    const at::Tensor delta = token_rewards.select(1, t) + gamma * next_value - vt;
    const at::Tensor a = delta + gamma * lam * next_adv;
    // A position the policy did not generate passes its successor's value and advantage through.
    next_value = vt * mt + next_value * (1 - mt);
    next_adv = a * mt + next_adv * (1 - mt);
    adv[static_cast<size_t>(t)] = next_adv;
  }
  Gae g;
  g.advantages = T > 0 ? at::stack(adv, 1) : at::zeros_like(values);
  g.returns = g.advantages + values;
  return g;
}

at::Tensor terminal_rewards(const at::Tensor& rewards, const at::Tensor& mask) {
  PT_CHECK(mask.dim() == 2 && rewards.dim() == 1 && rewards.size(0) == mask.size(0),
           "terminal_rewards: {} rewards for {} sequences", rewards.size(0), mask.size(0));
  const int64_t T = mask.size(1);
  // Index of the last generated token: the largest t with mask 1 (0 for an empty completion).
  const at::Tensor pos = at::arange(T, mask.options().dtype(at::kLong));
  const at::Tensor last = (mask.gt(0).to(at::kLong) * (pos + 1)).amax(1).clamp_min(1) - 1;
  at::Tensor out = at::zeros(mask.sizes(), rewards.options());
  const at::Tensor any = mask.gt(0).any(1);
  out.scatter_(1, last.unsqueeze(1), at::where(any, rewards, at::zeros_like(rewards)).unsqueeze(1));
  return out;
}

TokenMoments masked_moments(const at::Tensor& x, const at::Tensor& mask) {
  const at::Tensor m = mask.to(at::kDouble), v = x.to(at::kDouble) * m;
  return {m.sum().item<double>(), v.sum().item<double>(), (v * v).sum().item<double>()};
}

ValueLossTerms value_loss_terms(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                                const at::Tensor& mask, double value_clip) {
  const at::Tensor m = mask.to(values.scalar_type());
  const at::Tensor l1 = (values - returns).pow(2);
  ValueLossTerms t;
  if (value_clip <= 0) {
    t.per_token = 0.5 * l1 * m;
    t.clipped = at::zeros_like(m);
    return t;
  }
  const at::Tensor clipped = old_values + (values - old_values).clamp(-value_clip, value_clip);
  const at::Tensor l2 = (clipped - returns).pow(2);
  t.per_token = 0.5 * at::max(l1, l2) * m;
  t.clipped = (l2.gt(l1).to(m.scalar_type()) * m).detach();
  return t;
}

}  // namespace pt::algo
