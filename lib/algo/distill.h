#pragma once
// Knowledge distillation: a frozen teacher (same tokenizer; its width, depth and vocabulary padding
// may differ) scores the student's packed batch without gradients; the student learns the teacher's
// next-token distributions at the trained positions (forward KL, reverse KL or generalized JSD,
// with temperature, optionally over the teacher's top-k only), mixed with cross-entropy on the
// labels. Both sides go through their LM heads chunk by chunk (lib/algo/distill_losses).
#include <memory>

#include "algo/algorithm.h"
#include "algo/distill_losses.h"
#include "algo/options.h"

namespace pt::algo {

class Distill : public Algorithm {
 public:
  explicit Distill(const DistillOptions& opts);
  void setup(const Context& ctx) override;
  LossOut loss(const MicroBatch& mb, const Prepared& prep) override;

 private:
  DistillOptions o_;
  DistillParams params_;
  std::unique_ptr<model::CausalLM> teacher_;
  int64_t vocab_ = 0;  // the vocabulary both heads share
};

std::unique_ptr<Algorithm> make_distill(const recipe::Recipe& r);

// Refuses a teacher whose tokenizer differs from the student's, naming what differs. A teacher
// directory without tokenizer files cannot be checked and is accepted with a warning.
void check_same_tokenizer(const tok::HfTokenizer& student, const std::string& teacher_dir);

}  // namespace pt::algo
