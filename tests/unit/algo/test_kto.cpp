// KTO loss parity with TRL: tests/reference/trl_kto.py runs TRL's KTOTrainer._compute_loss (loss_type
// kto) with a stand-in model on random float64 log-probs, two settings of beta and the weights.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "algo/preference_losses.h"
#include "python_reference.h"

using namespace pt;

TEST_CASE("KTO: the loss, its KL reference point and rewards equal TRL's KTOTrainer in float64", "[algo][loss][trl]") {
  const testing::PythonReference t("trl_kto.py");
  const at::Tensor lr = t["logps"] - t["ref_logps"], good = t["labels"].gt(0.5);
  // z0: the mean log-ratio of the mismatched pairs, clamped at 0 (Kto::kl_reference_point's reduction).
  const double z0 = std::max(0.0, (t["kl_logps"] - t["ref_kl_logps"]).mean().item<double>());
  struct Case {
    const char* name;
    algo::KtoParams p;
  };
  for (const Case& c : {Case{"a", {0.1, 1.0, 1.0}}, Case{"b", {0.5, 1.33, 0.8}}}) {
    INFO("setting " << c.name);
    CHECK(std::abs(z0 - t[std::string(c.name) + "_kl"].item<double>()) < 1e-12);
    const auto k = algo::kto_loss(lr, good, z0, c.p);
    CHECK(std::abs(k.loss.mean().item<double>() - t[std::string("loss_") + c.name].item<double>()) < 1e-12);
    const at::Tensor g = good.to(at::kDouble);
    CHECK(std::abs((k.reward * g).sum().item<double>() / g.sum().item<double>() -
                   t[std::string(c.name) + "_rewards_chosen"].item<double>()) < 1e-12);
    CHECK(std::abs((k.reward * (1 - g)).sum().item<double>() / (1 - g).sum().item<double>() -
                   t[std::string(c.name) + "_rewards_rejected"].item<double>()) < 1e-12);
  }
}
