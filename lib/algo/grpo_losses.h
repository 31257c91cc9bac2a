#pragma once
// Group-relative policy optimization as pure functions over padded [B, T] completion tensors (B
// sequences, T = the longest completion, `mask` 1 on real completion tokens): group advantages,
// the clipped importance-weighted policy loss (token-level GRPO/DAPO or sequence-level GSPO
// ratios, asymmetric clipping), the k3 KL estimate to a reference, and the four aggregations.
// Same definitions as TRL's GRPOTrainer (tests/unit/algo/test_grpo_parity.cpp).
#include <ATen/ATen.h>

#include "algo/options.h"

namespace pt::algo {


// rewards [B] with the G completions of each prompt consecutive. (r - mean of its group) divided by
// the group's (Group) or the whole batch's (Batch) unbiased std + 1e-4, or not divided (None, Dr. GRPO).
// NaN rewards (unscorable completions) are left out of the statistics and get advantage 0.
at::Tensor group_advantages(const at::Tensor& rewards, int64_t group_size, RewardScale scale);

// RLOO: each reward minus the mean of the other scorable completions of its group, n/(n-1) (r - mean)
// (TRL's RLOOTrainer, verl's rloo). NaN rewards are left out and get 0, as does a group with one
// scorable completion.
at::Tensor rloo_advantages(const at::Tensor& rewards, int64_t group_size);

// REINFORCE++ with an outcome reward (verl's reinforce_plus_plus and reinforce_plus_plus_baseline):
// the return of each completion token is its completion's reward (gamma 1) — minus its group's mean
// for the baseline variant — and returns are whitened over every completion token of the batch:
// (x - mu) / sqrt(var + 1e-8), mu and the unbiased var weighted by completion length. Moments are
// summed so ranks can add theirs before whitening; NaN rewards are left out and get 0.
struct TokenMoments {
  double tokens = 0, sum = 0, sum_sq = 0;
};
at::Tensor reinforce_pp_returns(const at::Tensor& rewards, int64_t group_size, bool baseline);
TokenMoments token_moments(const at::Tensor& returns, const at::Tensor& lengths);
at::Tensor whiten_by_tokens(const at::Tensor& returns, const TokenMoments& m);

enum class GrpoAggregation { Grpo, Bnpo, DrGrpo, Dapo };
// Clipped: PPO's clipped surrogate (GRPO and its variants). Cispo: the importance weight, capped at
// epsilon_high and not differentiated, times advantage times log-prob (CISPO, TRL loss_type "cispo"):
// every token keeps a gradient, however far its ratio moved.
enum class PolicyObjective { Clipped, Cispo };

struct PolicyLossParams {
  GrpoAggregation aggregation = GrpoAggregation::Dapo;
  ImportanceSampling importance = ImportanceSampling::Token;
  PolicyObjective objective = PolicyObjective::Clipped;
  double epsilon_low = 0.2, epsilon_high = 0.2;
  // Dual clip (verl's clip_ratio_c, Ye et al. 2020): on a negative advantage the clipped surrogate's
  // loss is capped at -c x advantage, so a token whose ratio exploded cannot dominate; 0 = off.
  double dual_clip = 0;
  double beta = 0;  // KL coefficient; 0 = no reference
};

struct PolicyLossTerms {
  // Per-token loss [B, T] (masked positions 0), and per sequence: the sum and the count of its
  // completion tokens. The aggregations below reduce these.
  at::Tensor per_token, seq_sum, seq_tokens;
  at::Tensor clipped;  // [B, T] (or [B, 1] at sequence level) 1 where the clipped branch was taken (CISPO: the
                       // weight was capped on a positive advantage)
  at::Tensor kl;       // [B, T] k3 estimate (undefined when beta = 0)
};

// logps, old_logps, ref_logps: [B, T] per-token log-probs (current policy with gradients; the
// rollout policy; the reference, only read when beta > 0); advantages [B] (one per sequence) or
// [B, T] (per token: GAE, KL-shaped returns); mask [B, T]. behaviour_weight [B, T] (optional): the
// off-policy correction's weights (algo/rollout_correction.h), multiplying each token's policy loss
// before the KL term is added (TRL's order).
PolicyLossTerms policy_loss_terms(const at::Tensor& logps, const at::Tensor& old_logps, const at::Tensor& ref_logps,
                                  const at::Tensor& advantages, const at::Tensor& mask, const PolicyLossParams& p,
                                  const at::Tensor& behaviour_weight = at::Tensor());

// The numerator of the step's loss contributed by these sequences and the global denominator it is
// divided by, so that micro-batches and ranks add up to one step's loss:
//   grpo: sum of per-sequence token means / number of sequences
//   bnpo, dapo: sum over tokens / number of completion tokens
//   dr_grpo: sum over tokens / (number of sequences x max_completion_length)
at::Tensor aggregate_numerator(const PolicyLossTerms& t, GrpoAggregation a);
double aggregate_denominator(GrpoAggregation a, double sequences, double tokens, double max_completion_length);

}  // namespace pt::algo
