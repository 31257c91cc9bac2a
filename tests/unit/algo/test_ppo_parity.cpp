// PPO's formulas against verl's core_algos definitions (tests/reference/verl_ppo.py, float64): GAE
// with observation tokens inside a response (mask holes) and its whitening, the clipped value loss
// and its clip fraction, the dual-clip policy loss with per-token advantages, and REINFORCE++'s
// returns with the k1 KL in the reward.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "algo/grpo_losses.h"
#include "algo/ppo_losses.h"
#include "python_reference.h"

using namespace pt;

namespace {
double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST_CASE("PPO: GAE, value loss and dual clip equal verl's in float64", "[algo][loss][ppo]") {
  const testing::PythonReference verl("verl_ppo.py");
  auto t = [&](const std::string& k) { return verl[k]; };
  const at::Tensor mask = t("mask"), values = t("values");
  CHECK(max_diff(algo::terminal_rewards(t("scores"), mask), t("token_rewards")) == 0);
  const algo::Gae g = algo::gae(t("token_rewards"), values, mask, 0.99, 0.9);
  CHECK(max_diff(g.advantages * mask, t("gae_advantages_raw") * mask) < 1e-12);
  CHECK(max_diff(g.returns * mask, t("gae_returns") * mask) < 1e-12);
  const algo::TokenMoments m = algo::masked_moments(g.advantages, mask);
  CHECK(max_diff(algo::whiten_by_tokens(g.advantages, m) * mask, t("gae_advantages")) < 1e-9);

  const algo::ValueLossTerms v = algo::value_loss_terms(t("vpreds"), values, t("gae_returns"), mask, 0.5);
  CHECK(std::abs((v.per_token.sum() / mask.sum()).item<double>() - t("value_loss").item<double>()) < 1e-12);
  CHECK(std::abs((v.clipped.sum() / mask.sum()).item<double>() - t("value_clipfrac").item<double>()) < 1e-12);
  CHECK(t("value_clipfrac").item<double>() > 0);  // the clipped branch is exercised

  {
    INFO("REINFORCE++ with the k1 KL in the reward: the return to go is GAE at gamma = lam = 1 with V = 0");
    const at::Tensor cm = t("rpp_mask");
    const at::Tensor shaped = algo::terminal_rewards(t("scores"), cm) - t("rpp_beta") * (t("rpp_old") - t("rpp_ref")) * cm;
    const algo::Gae rg = algo::gae(shaped, torch::zeros_like(cm), cm, 1.0, 1.0);
    const at::Tensor a = algo::whiten_by_tokens(rg.advantages, algo::masked_moments(rg.advantages, cm)) * cm;
    CHECK(max_diff(a, t("rpp_kl_advantages")) < 1e-9);
  }
  algo::PolicyLossParams p;
  p.epsilon_low = 0.2;
  p.epsilon_high = 0.28;
  p.dual_clip = 3.0;
  const auto terms = algo::policy_loss_terms(t("pg_logp"), t("pg_old"), at::Tensor(), t("pg_adv"), mask, p);
  CHECK(max_diff(terms.per_token, t("pg_per_token")) < 1e-12);
  CHECK(std::abs((algo::aggregate_numerator(terms, algo::GrpoAggregation::Dapo) / mask.sum()).item<double>() -
                 t("pg_loss").item<double>()) < 1e-12);
  CHECK(t("pg_dual_clipped").item<double>() > 0);  // some tokens take the dual-clip branch
  p.dual_clip = 0;  // off: differs exactly where the dual clip engaged
  const auto plain = algo::policy_loss_terms(t("pg_logp"), t("pg_old"), at::Tensor(), t("pg_adv"), mask, p);
  CHECK(max_diff(plain.per_token, t("pg_per_token")) > 1e-3);
}

TEST_CASE("PPO: GAE with gamma = lam = 1 and zero values is the return to go", "[algo][ppo]") {
  const at::Tensor mask = torch::tensor({{1., 1., 1., 0.}, {1., 1., 0., 0.}}, torch::kDouble);
  const at::Tensor r = algo::terminal_rewards(torch::tensor({2.0, -1.0}, torch::kDouble), mask);
  const algo::Gae g = algo::gae(r, torch::zeros_like(mask), mask, 1.0, 1.0);
  CHECK(max_diff(g.advantages * mask, torch::tensor({{2., 2., 2., 0.}, {-1., -1., 0., 0.}}, torch::kDouble)) == 0);
  // A perfect critic (V = the return) leaves no advantage to learn from.
  const algo::Gae perfect = algo::gae(r, g.returns * mask, mask, 1.0, 1.0);
  CHECK(max_diff(perfect.advantages * mask, torch::zeros_like(mask)) == 0);
}
