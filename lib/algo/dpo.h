#pragma once
// Direct preference optimization and its family (IPO, hinge, robust, conservative DPO, SimPO, ORPO,
// RPO's NLL term) over packed preference pairs.
//
// A pair is one packing unit (chosen document, then rejected), so it always lands in one row, hence
// one micro-batch and one rank. Per-token log-probs come from the chunked op; summing them per
// document gives each answer's log-probability. Reference log-probs come from a frozen copy of the
// starting weights, from the policy itself with its LoRA adapters switched off, or from a cache
// computed once before training (then no reference model stays in memory).
#include <map>
#include <memory>
#include <tuple>

#include "algo/algorithm.h"
#include "algo/options.h"
#include "algo/preference_losses.h"

namespace pt::algo {

// A step's global pair count and chosen-token count (the loss and NLL-term denominators).
struct PairTotals : StepData {
  PairTotals(double p, double c) : pairs(p), chosen_tokens(c) {}
  double pairs = 0, chosen_tokens = 0;
};

// The DPO family's objective on one micro-batch's pairs, given the step's totals: the loss to backward
// (per-pair losses summed over `pairs`, plus nll_weight times the chosen answers' NLL over
// `chosen_tokens`, RPO's term) and the metrics TRL's DPOTrainer logs (rewards/chosen, rejected,
// accuracy, margin; logps/chosen, rejected; nll) as sums with their step denominators.
LossOut pair_objective(const PairLogps& in, const PreferenceLossParams& p, double nll_weight, double pairs,
                       double chosen_tokens);

class Dpo : public Algorithm {
 public:
  Dpo(const DpoOptions& opts, std::string model_path, std::string run_dir);
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;

 private:
  // (split, source, record) -> summed reference log-probs of (chosen, rejected).
  using CacheKey = std::tuple<int, uint32_t, int64_t>;
  at::Tensor reference_doc_logps(const MicroBatch& mb, bool training);
  void build_cache();
  // SimPO and ORPO are reference-free.
  bool needs_reference() const {
    return params_.kind != DpoLoss::Simpo && params_.kind != DpoLoss::Orpo;
  }

  DpoOptions o_;
  PreferenceLossParams params_;
  std::string model_path_, run_dir_;
  DpoReference mode_ = DpoReference::Model;
  std::unique_ptr<model::CausalLM> ref_;
  std::map<CacheKey, std::pair<double, double>> cache_;
};

std::unique_ptr<Algorithm> make_dpo(const recipe::Recipe& r);

}  // namespace pt::algo
