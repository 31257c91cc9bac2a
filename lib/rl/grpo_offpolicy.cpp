// GRPO's off-policy parts: rollouts generated ahead on the rollout ranks (max_staleness) and the
// correction of their log-probs against the trainer's (rollout_correction).
#include <algorithm>

#include "algo/logprobs.h"
#include "algo/rollout_correction.h"
#include "model/autocast.h"
#include "parallel/world.h"
#include "rl/grpo.h"
#include "rl/rollout_queue.h"

namespace pt::rl {

using namespace pt::algo;

Rollouts Grpo::rollouts(const data::StepBatch& batch, const PromptBatch& pb, bool training) {
  const auto step = static_cast<int64_t>(batch.step);
  if (!training || o_.max_staleness == 0) return controller_->rollout(pb, step, training);
  // The weights now are version `step`: they sample every batch up to step + K not yet in flight
  // (at the start, batches 0..K all with version 0), so batch n is always sampled by version
  // max(0, n - K) — a fixed schedule, whatever the timing.
  auto& queue = RolloutQueue::get();
  std::vector<const data::StepBatch*> next{&batch};
  next.insert(next.end(), ahead_.begin(), ahead_.end());
  // Partial rollouts: the new batches wait for one job that also continues the unfinished ones.
  const bool send = !o_.partial_rollouts;
  for (const data::StepBatch* b : next)
    if (static_cast<int64_t>(b->step) >= queue.next_step())
      controller_->submit(b == &batch ? pb : prompt_batch(*b), static_cast<int64_t>(b->step), step, send);
  if (!send) controller_->dispatch(step);
  ahead_.clear();
  return controller_->collect(pb, step);
}

void Grpo::correct(const MicroBatch& mb, Side& sd, std::vector<double>& sums) {
  at::Tensor prox;
  {
    // The trainer's log-probs before the update, computed as the loss computes them.
    at::NoGradGuard ng;
    const model::AutocastScope ac(model::bf16_autocast(ctx_.device), ctx_.autocast_bf16);
    prox = padded(sd, label_logprobs(*ctx_.policy, mb).to(at::kFloat)) * sd.mask;
  }
  const CorrectionWeights w = rollout_correction_weights(prox, sd.behaviour_lp, sd.mask, o_.rollout_correction);
  sd.old_lp = prox;  // the clipped ratio's denominator: the proximal policy
  sd.is_weight = w.weight;
  sums[0] += w.units, sums[1] += w.sum, sums[2] += w.sum_sq, sums[3] += w.masked;
  sums[4] = std::max(sums[4], w.max_raw);
}

void Grpo::correction_metrics(std::vector<double> sums, Prepared& prep) const {
  const auto& world = *ctx_.world;
  const double local_max = sums[4];
  if (world.size() > 1) {
    // Each rank's largest weight in a slot of its own: one sum gives all of them.
    sums.resize(4 + static_cast<size_t>(world.size()), 0.0);
    sums[4] = 0;
    sums[4 + static_cast<size_t>(world.rank())] = local_max;
    sums = world.allreduce_sum(sums);
  }
  double max_raw = 0;
  for (size_t i = 4; i < sums.size(); ++i) max_raw = std::max(max_raw, sums[i]);
  const double units = std::max(1.0, sums[0]);
  // Already global: every rank reports the same value, averaged over the ranks.
  const double ranks = static_cast<double>(world.size());
  auto add = [&](const char* name, double v) { prep.metrics.push_back({name, at::scalar_tensor(v, at::kDouble), ranks}); };
  add("rollout_correction/weight_mean", sums[1] / units);
  add("rollout_correction/weight_max", max_raw);
  add("rollout_correction/ess", effective_sample_fraction(sums[0], sums[1], sums[2]));
  add("rollout_correction/masked_fraction", sums[3] / units);
}

}  // namespace pt::rl
