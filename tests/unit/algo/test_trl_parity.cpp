// Loss parity with TRL: tests/reference/trl_losses.py runs TRL's own DPO / CPO (SimPO, cDPO) / GKD
// code on random float64 inputs; our pure functions must agree within 1e-6 on the same inputs.
// TRL's DPOTrainer ignores label_smoothing for "sigmoid" (it uses it in "robust"), so the
// label-smoothed sigmoid (cDPO) is compared with CPOTrainer.cpo_loss, whose formula it shares.
// Temperature: GKDTrainer.generalized_jsd_loss divides both logits by it; so does ours.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "algo/distill_losses.h"
#include "algo/dpo.h"
#include "algo/preference_losses.h"
#include "python_reference.h"

using namespace pt;

namespace {
// TRL's own losses on the inputs tests/reference/trl_losses.py draws.
struct Ref : testing::PythonReference {
  Ref() : PythonReference("trl_losses.py") {}
};

double scalar(const at::Tensor& t) { return t.reshape({}).item<double>(); }
}  // namespace

TEST_CASE("DPO-family losses equal TRL's in float64", "[algo][loss][trl]") {
  Ref ref;
  const at::Tensor tok = ref["token_logps"], mask = ref["shift_mask"];
  const int64_t P = ref["ref_chosen"].size(0);
  const at::Tensor seq = (tok * mask).sum(1), lens = mask.sum(1);
  algo::PairLogps in{seq.narrow(0, 0, P), seq.narrow(0, P, P), ref["ref_chosen"], ref["ref_rejected"],
                     lens.narrow(0, 0, P), lens.narrow(0, P, P)};
  using K = algo::DpoLoss;
  struct Case {
    const char* name;
    K kind;
    double beta, ls, nll_weight;
  };
  for (const Case& c : {Case{"sigmoid", K::Sigmoid, 0.1, 0, 0}, Case{"hinge", K::Hinge, 0.3, 0, 0},
                        Case{"ipo", K::Ipo, 0.4, 0, 0}, Case{"robust", K::Robust, 0.2, 0.2, 0},
                        Case{"rpo", K::Sigmoid, 0.1, 0, 0.7}}) {
    INFO("loss " << c.name);
    algo::PreferenceLossParams p;
    p.kind = c.kind;
    p.beta = c.beta;
    p.label_smoothing = c.ls;
    // Our trainer's objective (loss and logged metrics, Dpo::loss's code) on the whole batch as one step.
    const double chosen_tokens = mask.narrow(0, 0, P).sum().item<double>();
    auto o = algo::pair_objective(in, p, c.nll_weight, static_cast<double>(P), chosen_tokens);
    std::map<std::string, double> got;
    for (const auto& m : o.metrics) got[m.name] = m.sum.item<double>() / m.denominator;
    const std::string k = std::string("dpo_") + c.name + "_";
    CHECK(std::abs(o.loss.item<double>() - scalar(ref[k + "loss"])) < 1e-6);
    CHECK(std::abs(got.at("loss") - scalar(ref[k + "loss"])) < 1e-6);
    CHECK(std::abs(got.at("rewards/chosen") - scalar(ref[k + "rewards_chosen"])) < 1e-6);
    CHECK(std::abs(got.at("rewards/rejected") - scalar(ref[k + "rewards_rejected"])) < 1e-6);
    CHECK(std::abs(got.at("rewards/margin") - scalar(ref[k + "rewards_margins"])) < 1e-6);
    CHECK(std::abs(got.at("rewards/accuracy") - scalar(ref[k + "rewards_accuracies"])) < 1e-6);
    CHECK(std::abs(got.at("logps/chosen") - scalar(ref[k + "logps_chosen"])) < 1e-6);
    CHECK(std::abs(got.at("logps/rejected") - scalar(ref[k + "logps_rejected"])) < 1e-6);
    CHECK(got.count("nll") == (c.nll_weight > 0 ? 1u : 0u));
  }
  struct CpoCase {
    const char* name;
    K kind;
    double beta, ls;
  };
  for (const CpoCase& c : {CpoCase{"cdpo", K::Sigmoid, 0.1, 0.2}, CpoCase{"simpo", K::Simpo, 2.0, 0},
                           CpoCase{"simpo_ls", K::Simpo, 2.5, 0.1}}) {
    INFO("loss " << c.name);
    algo::PreferenceLossParams p;
    p.kind = c.kind;
    p.beta = c.beta;
    p.label_smoothing = c.ls;
    p.simpo_gamma = 0.5;
    auto o = algo::preference_loss(in, p);
    CHECK((o.loss - ref[std::string("cpo_") + c.name + "_losses"]).abs().max().item<double>() < 1e-6);
  }
  for (double beta : {0.1, 0.5}) {
    INFO("orpo beta " << beta);  // TRL's term is beta·logσ(log odds), subtracted from the NLL; in float32
    algo::PreferenceLossParams p;
    p.kind = K::Orpo;
    p.beta = beta;
    auto o = algo::preference_loss(in, p);
    CHECK((o.loss + ref[fmt::format("orpo_b{}_losses", beta)]).abs().max().item<double>() < 1e-6);
  }
}

TEST_CASE("generalized JSD equals TRL's GKD loss at beta 0, 0.5, 1 and two temperatures", "[algo][loss][trl]") {
  Ref ref;
  const at::Tensor s = ref["student_logits"], t = ref["teacher_logits"], labels = ref["labels"];
  const at::Tensor keep = labels.ne(-100).reshape({-1}).nonzero().squeeze(1);
  const int64_t V = s.size(-1);
  const at::Tensor sf = s.reshape({-1, V}).index_select(0, keep), tf = t.reshape({-1, V}).index_select(0, keep);
  for (double beta : {0.0, 0.5, 1.0})
    for (double temp : {1.0, 2.0}) {
      INFO("beta " << beta << " temperature " << temp);
      algo::DistillParams p{beta, temp, 0};
      const double ours = algo::generalized_jsd(sf, tf, p).sum().item<double>() / keep.size(0);
      CHECK(std::abs(ours - scalar(ref[fmt::format("jsd_b{:.1f}_t{:.1f}", beta, temp)])) < 1e-6);
    }
}
