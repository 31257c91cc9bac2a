// Reward-model loss parity with TRL: tests/reference/trl_reward.py runs TRL's RewardTrainer.compute_loss
// (plain, with a per-pair margin, with center_rewards_coefficient) on random float64 scores.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "algo/preference_losses.h"
#include "python_reference.h"

using namespace pt;

TEST_CASE("reward model: the Bradley-Terry loss equals TRL's RewardTrainer in float64", "[algo][loss][trl]") {
  const testing::PythonReference t("trl_reward.py");
  const at::Tensor c = t["chosen"], r = t["rejected"], m = t["margin"];
  REQUIRE(c.scalar_type() == at::kDouble);
  const auto plain = algo::bradley_terry_loss(c, r, {});
  CHECK(std::abs(plain.loss.mean().item<double>() - t["loss_plain"].item<double>()) < 1e-12);
  const auto margin = algo::bradley_terry_loss(c, r, m);
  CHECK(std::abs(margin.loss.mean().item<double>() - t["loss_margin"].item<double>()) < 1e-12);
  const double centred = plain.loss.mean().item<double>() + 0.01 * plain.center.mean().item<double>();
  CHECK(std::abs(centred - t["loss_center"].item<double>()) < 1e-12);
  CHECK(std::abs(c.gt(r).to(at::kDouble).mean().item<double>() - t["accuracy"].item<double>()) < 1e-12);
  CHECK(std::abs((c - r).mean().item<double>() - t["mean_margin"].item<double>()) < 1e-12);
}

TEST_CASE("reward model: the loss's gradient moves the chosen score up and the rejected one down", "[algo][loss]") {
  at::Tensor c = torch::tensor({0.5, -1.0}, torch::dtype(torch::kDouble).requires_grad(true));
  at::Tensor r = torch::tensor({0.5, 2.0}, torch::dtype(torch::kDouble).requires_grad(true));
  const auto bt = algo::bradley_terry_loss(c, r, {});
  bt.loss.sum().backward();
  // d/dc -log sigma(c - r) = -sigma(r - c): 0.5 at a tie.
  CHECK(c.grad()[0].item<double>() == Approx(-0.5));
  CHECK(r.grad()[0].item<double>() == Approx(0.5));
  CHECK(c.grad()[1].item<double>() < -0.9);
  CHECK(bt.center[1].item<double>() == Approx(1.0));
}
