#include "algo/grpo_losses.h"

#include <cmath>

#include "core/error.h"

namespace pt::algo {

namespace {
// Unbiased std over non-NaN entries along `dim` (NaN when fewer than two).
at::Tensor nan_std(const at::Tensor& x, int64_t dim) {
  at::Tensor mean = at::nanmean(x, dim, true);
  at::Tensor var = at::nanmean((x - mean).pow(2), dim, true);
  at::Tensor n = x.isnan().logical_not().sum(dim, true).to(x.scalar_type());
  return (var * n / (n - 1)).sqrt().squeeze(dim);
}
}  // namespace

at::Tensor group_advantages(const at::Tensor& rewards, int64_t group_size, RewardScale scale) {
  PT_CHECK(rewards.dim() == 1 && group_size > 0 && rewards.size(0) % group_size == 0,
           "group_advantages: {} rewards do not form groups of {}", rewards.size(0), group_size);
  at::Tensor g = rewards.view({-1, group_size});
  at::Tensor mean = at::nanmean(g, 1, true).expand_as(g).reshape({-1});
  at::Tensor adv = rewards - mean;
  if (scale == RewardScale::Group) adv = adv / (nan_std(g, 1).repeat_interleave(group_size) + 1e-4);
  if (scale == RewardScale::Batch) adv = adv / (nan_std(rewards.view({1, -1}), 1).expand_as(rewards) + 1e-4);
  return at::nan_to_num(adv, 0.0, 0.0, 0.0);
}

at::Tensor rloo_advantages(const at::Tensor& rewards, int64_t group_size) {
  PT_CHECK(rewards.dim() == 1 && group_size > 0 && rewards.size(0) % group_size == 0,
           "rloo_advantages: {} rewards do not form groups of {}", rewards.size(0), group_size);
  at::Tensor g = rewards.view({-1, group_size});
  at::Tensor n = g.isnan().logical_not().sum(1, true).to(rewards.scalar_type());
  at::Tensor others = (at::nansum(g, 1, true) - g) / (n - 1);  // NaN (0/0) for a lone scorable one
  return at::nan_to_num((g - others).reshape({-1}), 0.0, 0.0, 0.0);
}

at::Tensor reinforce_pp_returns(const at::Tensor& rewards, int64_t group_size, bool baseline) {
  if (!baseline) return rewards.clone();
  PT_CHECK(rewards.dim() == 1 && group_size > 0 && rewards.size(0) % group_size == 0,
           "reinforce_pp_returns: {} rewards do not form groups of {}", rewards.size(0), group_size);
  at::Tensor g = rewards.view({-1, group_size});
  // verl: a group of one keeps its score (baseline 0).
  at::Tensor mean = group_size > 1 ? at::nanmean(g, 1, true) : at::zeros_like(g.select(1, 0).unsqueeze(1));
  return (g - mean).reshape({-1});
}

TokenMoments token_moments(const at::Tensor& returns, const at::Tensor& lengths) {
  const at::Tensor ok = returns.isnan().logical_not();
  const at::Tensor x = at::where(ok, returns, at::zeros_like(returns));
  const at::Tensor w = at::where(ok, lengths.to(returns.scalar_type()), at::zeros_like(returns));
  return {w.sum().item<double>(), (w * x).sum().item<double>(), (w * x * x).sum().item<double>()};
}

at::Tensor whiten_by_tokens(const at::Tensor& returns, const TokenMoments& m) {
  if (m.tokens < 2) return at::zeros_like(returns);  // verl refuses a variance over one token
  const double mean = m.sum / m.tokens;
  const double var = (m.sum_sq / m.tokens - mean * mean) * m.tokens / (m.tokens - 1);
  return at::nan_to_num((returns - mean) / std::sqrt(std::max(var, 0.0) + 1e-8), 0.0, 0.0, 0.0);
}

PolicyLossTerms policy_loss_terms(const at::Tensor& logps, const at::Tensor& old_logps, const at::Tensor& ref_logps,
                                  const at::Tensor& advantages, const at::Tensor& mask, const PolicyLossParams& p,
                                  const at::Tensor& behaviour_weight) {
  PolicyLossTerms t;
  const at::Tensor m = mask.to(logps.scalar_type());
  at::Tensor log_ratio = logps - old_logps;
  at::Tensor log_w = p.importance == ImportanceSampling::Token
                         ? log_ratio
                         : ((log_ratio * m).sum(-1) / m.sum(-1).clamp_min(1.0)).unsqueeze(-1);  // GSPO
  at::Tensor coef1 = log_w.exp();
  at::Tensor adv = (advantages.dim() == 1 ? advantages.unsqueeze(1) : advantages).to(logps.scalar_type());
  at::Tensor per_token;
  if (p.objective == PolicyObjective::Cispo) {
    per_token = -coef1.clamp_max(p.epsilon_high).detach() * adv * logps;
    t.clipped = (coef1.gt(p.epsilon_high) & adv.gt(0)).to(logps.scalar_type()).detach();
  } else {
    at::Tensor coef2 = coef1.clamp(1 - p.epsilon_low, 1 + p.epsilon_high);
    at::Tensor l1 = coef1 * adv, l2 = coef2 * adv;
    per_token = -at::min(l1, l2);
    t.clipped = l2.lt(l1).to(logps.scalar_type()).detach();
    if (p.dual_clip > 0)
      per_token = at::where(adv.lt(0), at::min(per_token, -p.dual_clip * adv), per_token);
  }
  if (behaviour_weight.defined()) per_token = per_token * behaviour_weight.to(logps.scalar_type()).detach();
  if (p.beta != 0) {
    at::Tensor d = ref_logps - logps;
    t.kl = d.exp() - d - 1;  // k3: unbiased, always >= 0
    per_token = per_token + p.beta * t.kl;
  }
  t.per_token = per_token * m;
  t.seq_sum = t.per_token.sum(-1);
  t.seq_tokens = m.sum(-1);
  return t;
}

at::Tensor aggregate_numerator(const PolicyLossTerms& t, GrpoAggregation a) {
  if (a == GrpoAggregation::Grpo) return (t.seq_sum / t.seq_tokens.clamp_min(1.0)).sum();
  return t.seq_sum.sum();
}

double aggregate_denominator(GrpoAggregation a, double sequences, double tokens, double max_completion_length) {
  switch (a) {
    case GrpoAggregation::Grpo: return std::max(1.0, sequences);
    case GrpoAggregation::Bnpo:
    case GrpoAggregation::Dapo: return std::max(1.0, tokens);
    case GrpoAggregation::DrGrpo: return std::max(1.0, sequences * max_completion_length);
  }
  return 1;
}

}  // namespace pt::algo
