#pragma once
// GRPO and its family (Dr. GRPO, BNPO, DAPO, GSPO) on the loop's hooks: prepare() runs the RL
// controller's stages (rollouts on the live weights, rewards, group advantages, selection) and lays
// the selected completions out as packed micro-batches for one or more updates, with the rollout
// policy's log-probs (the importance-ratio denominators) and, when beta > 0, the reference's;
// loss() is the clipped policy loss from lib/algo/grpo_losses on those micro-batches.
#include <memory>

#include "algo/algorithm.h"
#include "algo/grpo_losses.h"
#include "algo/options.h"
#include "rl/controller.h"

namespace pt::algo {

class Grpo : public Algorithm {
 public:
  Grpo(const GrpoOptions& opts, std::string model_path, uint64_t seed);
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, const Prepared& prep) override;

 private:
  // Per micro-batch: its completions as a padded [S, T] layout over the labelled positions.
  struct Side {
    at::Tensor pad_index;  // [labels] -> s * T + t
    at::Tensor old_lp, ref_lp, mask, adv;  // [S, T], [S, T], [S, T], [S]
    int64_t seqs = 0, T = 0;
    double den = 1, update_tokens = 1;
    bool first_update = false;
  };
  at::Tensor label_logprobs(model::CausalLM& m, const MicroBatch& mb);

  GrpoOptions o_;
  PolicyLossParams params_;
  std::string model_path_;
  uint64_t seed_;
  DpoReference ref_mode_ = DpoReference::Model;
  std::unique_ptr<model::CausalLM> ref_;
  std::unique_ptr<rl::Controller> controller_;
  std::vector<Side> side_;
};

std::unique_ptr<Algorithm> make_grpo(const recipe::Recipe& r);

}  // namespace pt::algo
