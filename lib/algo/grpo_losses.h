#pragma once
// Group-relative policy optimization as pure functions over padded [B, T] completion tensors (B
// sequences, T = the longest completion, `mask` 1 on real completion tokens): group advantages,
// the clipped importance-weighted policy loss (token-level GRPO/DAPO or sequence-level GSPO
// ratios, asymmetric clipping), the k3 KL estimate to a reference, and the four aggregations.
// Same definitions as TRL's GRPOTrainer (tests/unit/algo/test_grpo_parity.cpp).
#include <ATen/ATen.h>

namespace pt::algo {

enum class AdvantageScale { Group, Batch, None };

// rewards [B] with the G completions of each prompt consecutive. (r - mean of its group) divided by
// the group's (Group) or the whole batch's (Batch) unbiased std + 1e-4, or not divided (None, Dr. GRPO).
// NaN rewards (unscorable completions) are left out of the statistics and get advantage 0.
at::Tensor group_advantages(const at::Tensor& rewards, int64_t group_size, AdvantageScale scale);

enum class GrpoAggregation { Grpo, Bnpo, DrGrpo, Dapo };
enum class ImportanceLevel { Token, Sequence };

struct PolicyLossParams {
  GrpoAggregation aggregation = GrpoAggregation::Dapo;
  ImportanceLevel importance = ImportanceLevel::Token;
  double epsilon_low = 0.2, epsilon_high = 0.2;
  double beta = 0;  // KL coefficient; 0 = no reference
};

struct PolicyLossTerms {
  // Per-token loss [B, T] (masked positions 0), and per sequence: the sum and the count of its
  // completion tokens. The aggregations below reduce these.
  at::Tensor per_token, seq_sum, seq_tokens;
  at::Tensor clipped;  // [B, T] (or [B, 1] at sequence level) 1 where the clipped branch was taken
  at::Tensor kl;       // [B, T] k3 estimate (undefined when beta = 0)
};

// logps, old_logps, ref_logps: [B, T] per-token log-probs (current policy with gradients; the
// rollout policy; the reference, only read when beta > 0); advantages [B]; mask [B, T].
PolicyLossTerms policy_loss_terms(const at::Tensor& logps, const at::Tensor& old_logps, const at::Tensor& ref_logps,
                                  const at::Tensor& advantages, const at::Tensor& mask, const PolicyLossParams& p);

// The numerator of the step's loss contributed by these sequences and the global denominator it is
// divided by, so that micro-batches and ranks add up to one step's loss:
//   grpo: sum of per-sequence token means / number of sequences
//   bnpo, dapo: sum over tokens / number of completion tokens
//   dr_grpo: sum over tokens / (number of sequences x max_completion_length)
at::Tensor aggregate_numerator(const PolicyLossTerms& t, GrpoAggregation a);
double aggregate_denominator(GrpoAggregation a, double sequences, double tokens, double max_completion_length);

}  // namespace pt::algo
