#pragma once
// Off-policy correction between the policy that sampled a token (the behaviour policy: the rollout
// engine's log-probs, possibly weights several updates old under asynchronous RL) and the trainer's
// policy before the update (the proximal policy, recomputed on the same tokens). The policy loss of
// each token is multiplied by the (not differentiated) weight pi_prox / pi_behaviour, as TRL's
// vllm_importance_sampling_* and verl's rollout correction do:
//   token_truncate    w_t = clamp(exp(lp_prox - lp_behav), clip_min, clip_max)          (TIS)
//   token_mask        w_t = the same ratio, 0 where it is outside [clip_min, clip_max]  (MIS)
//   sequence_truncate w = clamp(exp(sum_t (lp_prox - lp_behav)), clip_min, clip_max), one per sequence
//   sequence_mask     w = the sequence ratio, 0 (the whole sequence dropped) outside the bounds
// clip_min 0 = no lower bound. Masked tokens still count in the loss's denominator (as TRL).
#include <ATen/ATen.h>

#include "algo/options.h"

namespace pt::algo {

struct CorrectionWeights {
  at::Tensor weight;  // [B, T], 0 on padding; sequence modes repeat the sequence's weight on its tokens
  // Over the units the weights are drawn for (tokens, or sequences in the sequence modes), summed so
  // ranks and micro-batches add up: count, sum, sum of squares, masked units; and the largest weight
  // before truncation or masking.
  double units = 0, sum = 0, sum_sq = 0, masked = 0, max_raw = 0;
};

// lp_prox, lp_behav, mask: [B, T]. mode None: every weight 1.
CorrectionWeights rollout_correction_weights(const at::Tensor& lp_prox, const at::Tensor& lp_behav,
                                             const at::Tensor& mask, const RolloutCorrectionOptions& o);

// Kish's effective sample size of the weights, as a fraction of the units: (sum w)^2 / (n sum w^2);
// 1 when every weight is equal.
double effective_sample_fraction(double units, double sum, double sum_sq);

}  // namespace pt::algo
