#include "algo/rollout_correction.h"

#include <limits>

namespace pt::algo {

CorrectionWeights rollout_correction_weights(const at::Tensor& lp_prox, const at::Tensor& lp_behav,
                                             const at::Tensor& mask, const RolloutCorrectionOptions& o) {
  CorrectionWeights c;
  const at::Tensor m = mask.to(lp_prox.scalar_type());
  if (o.mode == CorrectionMode::None) {
    c.weight = m.clone();
    c.units = m.sum().item<double>();
    c.sum = c.sum_sq = c.units;
    c.max_raw = c.units > 0 ? 1.0 : 0.0;
    return c;
  }
  const bool sequence = o.mode == CorrectionMode::SequenceTruncate || o.mode == CorrectionMode::SequenceMask;
  const bool truncate = o.mode == CorrectionMode::TokenTruncate || o.mode == CorrectionMode::SequenceTruncate;
  at::Tensor diff = (lp_prox - lp_behav) * m;
  // One unit per token, or per sequence with at least one token.
  at::Tensor unit = sequence ? (m.sum(-1, true) > 0).to(m.scalar_type()) : m;
  at::Tensor raw = (sequence ? diff.sum(-1, true) : diff).exp();
  const double lo = o.clip_min > 0 ? o.clip_min : 0.0;
  const double hi = o.clip_max > 0 ? o.clip_max : std::numeric_limits<double>::infinity();
  at::Tensor w = truncate ? raw.clamp(lo, hi) : raw * (raw.ge(lo) & raw.le(hi)).to(raw.scalar_type());
  w = w * unit;
  c.units = unit.sum().item<double>();
  c.sum = w.sum().item<double>();
  c.sum_sq = (w * w).sum().item<double>();
  c.masked = truncate ? 0.0 : ((w == 0).to(m.scalar_type()) * unit).sum().item<double>();
  c.max_raw = c.units > 0 ? (raw * unit).max().item<double>() : 0.0;
  c.weight = (sequence ? w.expand_as(m) : w) * m;
  return c;
}

double effective_sample_fraction(double units, double sum, double sum_sq) {
  return units > 0 && sum_sq > 0 ? sum * sum / (units * sum_sq) : 1.0;
}

}  // namespace pt::algo
