#pragma once
// KTO (Kahneman-Tversky optimization) on unpaired examples ({prompt, completion, label} records,
// format unpaired), as TRL's KTOTrainer: each completion's log-ratio to a reference (frozen copy or
// LoRA adapters off) against the step's KL reference point z0, the mean log-ratio of mismatched
// prompt/completion pairs (each prompt with the previous example's completion on this rank, as TRL's
// collator cycles them), clamped at 0 and computed once per step without gradients, summed over ranks.
#include <memory>
#include <string>

#include "algo/algorithm.h"
#include "algo/options.h"
#include "algo/preference_losses.h"

namespace pt::algo {

// A step's global desirable / undesirable example counts and its KL reference point z0.
struct KtoTotals : StepData {
  KtoTotals(double d, double u, double z) : desirable(d), undesirable(u), z0(z) {}
  double desirable = 0, undesirable = 0, z0 = 0;
};

class Kto : public Algorithm {
 public:
  Kto(const KtoOptions& opts, std::string model_path);
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;

 private:
  // z0 of this step: mismatched pairs of the step's examples on this rank, averaged over all ranks.
  double kl_reference_point(const data::StepBatch& batch, bool training);

  KtoOptions o_;
  KtoParams params_;
  std::string model_path_;
  DpoReference mode_ = DpoReference::Model;
  std::unique_ptr<model::CausalLM> ref_;
};

std::unique_ptr<Algorithm> make_kto(const recipe::Recipe& r);

}  // namespace pt::algo
