#pragma once
// Reward-model training (Bradley-Terry) on preference pairs: the model's score head
// (model.head sequence_classification with num_labels 1, or a *ForSequenceClassification
// checkpoint) scores each answer at its last trained token, and the loss is the mean over the step's pairs
// of -log sigma(r_chosen - r_rejected - margin), plus center_coefficient x mean (r_c + r_r)^2 — TRL's
// RewardTrainer. The run's export is an HF *ForSequenceClassification that the GRPO `model` reward
// and transformers load.
#include "algo/algorithm.h"
#include "algo/options.h"

namespace pt::algo {

class RewardModel : public Algorithm {
 public:
  explicit RewardModel(const RewardModelOptions& o) : o_(o) {}
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;

 private:
  RewardModelOptions o_;
};

std::unique_ptr<Algorithm> make_reward_model(const recipe::Recipe& r);

}  // namespace pt::algo
