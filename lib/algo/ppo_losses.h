#pragma once
// PPO's critic-side formulas as pure functions over padded [B, T] completion tensors (`mask` 1 on
// the tokens the policy generated): generalized advantage estimation and the clipped value loss.
// The same definitions as verl's core_algos (compute_gae_advantage_return, compute_value_loss):
// tests/unit/algo/test_ppo_parity.cpp.
#include <ATen/ATen.h>

#include "algo/grpo_losses.h"

namespace pt::algo {

struct Gae {
  at::Tensor advantages;  // [B, T], not yet whitened (whitening spans the whole step: whiten_by_tokens)
  at::Tensor returns;     // [B, T] advantages + values: the critic's targets
};

// token_rewards, values, mask: [B, T]. Backwards over t: delta = r_t + gamma V_next - V_t,
// A_t = delta + gamma lam A_next, where "next" skips positions with mask 0 (tokens the policy did
// not generate — tool or user turns inside a multi-turn completion keep neither value nor TD error).
// Positions after the last generated token have V = 0 (the episode ended).
Gae gae(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma, double lam);

// The completion's outcome reward on its last generated token, 0 elsewhere ([B] -> [B, T]).
at::Tensor terminal_rewards(const at::Tensor& rewards, const at::Tensor& mask);

// Sums over the masked entries of x (ranks add theirs before whiten_by_tokens).
TokenMoments masked_moments(const at::Tensor& x, const at::Tensor& mask);

struct ValueLossTerms {
  at::Tensor per_token;  // [B, T] 0.5 max((V - R)^2, (clip(V, V_old +- clip) - R)^2), masked
  at::Tensor clipped;    // [B, T] 1 where the clipped branch was larger (verl's vf_clipfrac)
};
// values: the critic's predictions with gradients; old_values: at rollout time; returns: targets.
// value_clip <= 0: no clipping (plain squared error).
ValueLossTerms value_loss_terms(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                                const at::Tensor& mask, double value_clip);

}  // namespace pt::algo
