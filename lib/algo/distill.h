#pragma once
// Knowledge distillation: a frozen teacher (same tokenizer; its width, depth and vocabulary padding
// may differ) scores the student's packed batch without gradients; the student learns the teacher's
// next-token distributions at the trained positions (forward KL, reverse KL or generalized JSD,
// with temperature, optionally over the teacher's top-k only), mixed with cross-entropy on the
// labels. Both sides go through their LM heads chunk by chunk (lib/algo/distill_losses).
// On-policy (GKD; on_policy = lambda): on a lambda fraction of steps each answer is replaced by the
// student's own sample from the same prompt (the RL controller's rollout stage: colocated or on
// rollout ranks), and the teacher scores those tokens; the loss is unchanged.
#include <memory>

#include "algo/algorithm.h"
#include "algo/distill_losses.h"
#include "algo/options.h"

namespace pt::rl {
class Controller;  // on-policy answers come from its rollout stage (distill.cpp)
}

namespace pt::algo {

class Distill : public Algorithm {
 public:
  Distill(const DistillOptions& opts, uint64_t seed);
  ~Distill() override;
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;

 private:
  // Whether step `step` samples its answers (a function of the run seed and the step: resumable).
  bool on_policy_step(int64_t step) const;
  Prepared prepare_on_policy(data::StepBatch& batch);

  DistillOptions o_;
  uint64_t seed_;
  std::unique_ptr<rl::Controller> controller_;
  bool sampled_ = false;  // the prepared step's answers are the student's samples
  DistillParams params_;
  std::unique_ptr<model::CausalLM> teacher_;
  int64_t vocab_ = 0;  // the vocabulary both heads share
};

std::unique_ptr<Algorithm> make_distill(const recipe::Recipe& r);

// Refuses a teacher whose tokenizer differs from the student's, naming what differs. A teacher
// directory without tokenizer files cannot be checked and is accepted with a warning.
void check_same_tokenizer(const tok::HfTokenizer& student, const std::string& teacher_dir);

}  // namespace pt::algo
