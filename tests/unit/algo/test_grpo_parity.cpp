// GRPO-family loss and advantage parity with TRL: tests/reference/trl_grpo.py runs TRL's
// GRPOTrainer._compute_loss (loss_type grpo, bnpo, dr_grpo, dapo; token and sequence importance
// sampling; beta 0 and 0.04 with the k3 KL) and its group / batch / none advantage normalization on
// random float64 inputs; loss_type cispo; RLOO's leave-one-out baseline as TRL's RLOOTrainer computes
// it; REINFORCE++ and its baseline variant as verl's core_algos.py computes them. One batch = one
// micro-batch, so TRL's per-call normalization equals our global denominator.
#include <catch2/catch.hpp>

#include <cstdlib>

#include <fmt/format.h>
#include <torch/torch.h>

#include "algo/grpo_losses.h"
#include "python_reference.h"

using namespace pt;

TEST_CASE("GRPO-family losses and advantages equal TRL's in float64", "[algo][loss][trl][grpo]") {
  const testing::PythonReference trl("trl_grpo.py");
  auto t = [&](const std::string& k) { return trl[k]; };
  const at::Tensor mask = t("mask"), logps = t("logps"), old = t("old"), ref = t("ref"), adv = t("adv");
  const double max_len = t("max_completion_length").item<double>();
  using A = algo::GrpoAggregation;
  for (auto [name, agg] : {std::pair<const char*, A>{"grpo", A::Grpo}, {"bnpo", A::Bnpo}, {"dr_grpo", A::DrGrpo},
                           {"dapo", A::Dapo}})
    for (auto [level_name, level] : {std::pair<const char*, algo::ImportanceSampling>{"token", algo::ImportanceSampling::Token},
                                     {"sequence", algo::ImportanceSampling::Sequence}})
      for (double beta : {0.0, 0.04}) {
        const std::string key = fmt::format("loss_{}_{}_{}", name, level_name, beta == 0 ? "0.0" : "0.04");
        INFO(key);
        algo::PolicyLossParams p;
        p.aggregation = agg;
        p.importance = level;
        p.epsilon_low = 0.2;
        p.epsilon_high = 0.28;
        p.beta = beta;
        auto terms = algo::policy_loss_terms(logps, old, ref, adv, mask, p);
        const double ours = algo::aggregate_numerator(terms, agg).item<double>() /
                            algo::aggregate_denominator(agg, mask.size(0), mask.sum().item<double>(), max_len);
        CHECK(std::abs(ours - t(key).item<double>()) < 1e-6);
      }
  for (auto [level_name, level] : {std::pair<const char*, algo::ImportanceSampling>{"token", algo::ImportanceSampling::Token},
                                   {"sequence", algo::ImportanceSampling::Sequence}})
    for (double beta : {0.0, 0.04}) {
      const std::string key = fmt::format("loss_cispo_{}_{}", level_name, beta == 0 ? "0.0" : "0.04");
      INFO(key);
      algo::PolicyLossParams p;
      p.aggregation = A::Dapo;
      p.objective = algo::PolicyObjective::Cispo;
      p.importance = level;
      p.epsilon_high = 1.2;
      p.beta = beta;
      auto terms = algo::policy_loss_terms(logps, old, ref, adv, mask, p);
      const double ours = algo::aggregate_numerator(terms, A::Dapo).item<double>() /
                          algo::aggregate_denominator(A::Dapo, mask.size(0), mask.sum().item<double>(), max_len);
      CHECK(std::abs(ours - t(key).item<double>()) < 1e-6);
      if (level == algo::ImportanceSampling::Token) CHECK((terms.clipped * mask).sum().item<double>() > 0);
    }
  {
    INFO("rloo");
    CHECK((algo::rloo_advantages(t("rloo_rewards"), 4) - t("adv_rloo")).abs().max().item<double>() < 1e-12);
  }
  {
    INFO("reinforce_pp");
    CHECK(t("adv_reinforce_pp_spread").item<double>() < 1e-12);  // gamma 1: one advantage per completion
    const at::Tensor scores = t("rpp_scores"), lens = t("rpp_lens");
    for (bool baseline : {false, true}) {
      const at::Tensor ret = algo::reinforce_pp_returns(scores, 4, baseline);
      const at::Tensor a = algo::whiten_by_tokens(ret, algo::token_moments(ret, lens));
      const at::Tensor want = t(baseline ? "adv_reinforce_pp_baseline" : "adv_reinforce_pp");
      CHECK((a - want).abs().max().item<double>() < 1e-9);
    }
  }
  const at::Tensor rewards = t("rewards");
  for (auto [name, scale] : {std::pair<const char*, algo::RewardScale>{"group", algo::RewardScale::Group},
                             {"batch", algo::RewardScale::Batch}, {"none", algo::RewardScale::None}}) {
    INFO("advantages " << name);
    CHECK((algo::group_advantages(rewards, 4, scale) - t(std::string("adv_") + name)).abs().max().item<double>() < 1e-6);
  }
}

TEST_CASE("GRPO advantages: equal rewards give zero, unscorable completions are left out", "[algo][grpo]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto r = torch::tensor(std::vector<double>{1.0, 1.0, 1.0, 1.0, 0.0, 1.0, nan, 1.0}, torch::kDouble);
  auto a = algo::group_advantages(r, 4, algo::RewardScale::Group);
  CHECK(a.narrow(0, 0, 4).abs().max().item<double>() == 0);
  CHECK(a[6].item<double>() == 0);              // NaN reward: no advantage
  CHECK(a[4].item<double>() < 0);
  CHECK(a[5].item<double>() > 0);
  CHECK(std::abs(a[4].item<double>() + 2 * a[5].item<double>()) < 1e-9);  // mean of {0, 1, 1} is 2/3
}
