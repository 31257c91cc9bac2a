// The off-policy correction (algo/rollout_correction.h) against TRL's vllm_importance_sampling_*
// definitions and verl's effective sample size, in float64 (tests/reference/rollout_correction.py),
// and the identity it must be when the trainer's and the engine's log-probs agree.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "algo/grpo_losses.h"
#include "algo/rollout_correction.h"
#include "python_reference.h"

using namespace pt;

namespace {
double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST_CASE("rollout correction: TIS and MIS at token and sequence level equal TRL's", "[algo][loss][correction]") {
  const testing::PythonReference ref("rollout_correction.py");
  const at::Tensor mask = ref["mask"], prox = ref["prox"], behav = ref["behav"];
  const std::pair<algo::CorrectionMode, const char*> modes[] = {
      {algo::CorrectionMode::TokenTruncate, "token_truncate"},
      {algo::CorrectionMode::TokenMask, "token_mask"},
      {algo::CorrectionMode::SequenceTruncate, "sequence_truncate"},
      {algo::CorrectionMode::SequenceMask, "sequence_mask"}};
  for (const auto& [mode, name] : modes) {
    INFO(name);
    algo::RolloutCorrectionOptions o;
    o.mode = mode;
    o.clip_min = 0.5;
    o.clip_max = 2.0;
    const auto w = algo::rollout_correction_weights(prox, behav, mask, o);
    CHECK(max_diff(w.weight, ref[name]) < 1e-12);
    CHECK(std::abs(w.sum / w.units - ref[std::string(name) + "_mean"].item<double>()) < 1e-12);
    CHECK(std::abs(algo::effective_sample_fraction(w.units, w.sum, w.sum_sq) - ref[std::string(name) + "_ess"].item<double>()) < 1e-12);
    CHECK(w.masked == ref[std::string(name) + "_masked"].item<double>());
    CHECK(w.max_raw > 2.0);  // the data has ratios beyond the cap in every mode
  }
  // The masks drop something and the truncations do not.
  CHECK(ref["token_mask_masked"].item<double>() > 0);
  CHECK(ref["sequence_mask_masked"].item<double>() > 0);

  algo::RolloutCorrectionOptions o;
  o.mode = algo::CorrectionMode::TokenTruncate;
  o.clip_min = 0.5;
  const auto w = algo::rollout_correction_weights(prox, behav, mask, o);
  algo::PolicyLossParams p;
  p.aggregation = algo::GrpoAggregation::Dapo;
  p.beta = 0.04;
  const auto t = algo::policy_loss_terms(ref["logp"], prox, ref["ref"], ref["adv"], mask, p, w.weight);
  CHECK(max_diff(t.per_token, ref["corrected_per_token"]) < 1e-12);
}

TEST_CASE("rollout correction: equal log-probs make every mode the identity", "[algo][correction]") {
  torch::manual_seed(3);
  const at::Tensor lp = -torch::rand({4, 6}, torch::kDouble) * 2;
  at::Tensor mask = torch::ones({4, 6}, torch::kDouble);
  mask.index_put_({1, torch::indexing::Slice(3, torch::indexing::None)}, 0.0);
  const at::Tensor logp = lp + torch::randn({4, 6}, torch::kDouble) * 0.1, adv = torch::randn({4}, torch::kDouble);
  algo::PolicyLossParams p;
  const auto plain = algo::policy_loss_terms(logp, lp, at::Tensor(), adv, mask, p);
  for (auto mode : {algo::CorrectionMode::TokenTruncate, algo::CorrectionMode::TokenMask,
                    algo::CorrectionMode::SequenceTruncate, algo::CorrectionMode::SequenceMask}) {
    algo::RolloutCorrectionOptions o;
    o.mode = mode;
    const auto w = algo::rollout_correction_weights(lp, lp.clone(), mask, o);
    CHECK(torch::equal(w.weight, mask));
    CHECK(w.masked == 0);
    CHECK(algo::effective_sample_fraction(w.units, w.sum, w.sum_sq) == 1.0);
    const auto corrected = algo::policy_loss_terms(logp, lp, at::Tensor(), adv, mask, p, w.weight);
    CHECK(torch::equal(corrected.per_token, plain.per_token));
  }
}
