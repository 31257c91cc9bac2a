#include "algo/preference_losses.h"

#include "core/error.h"

namespace pt::algo {

namespace {
// -(1-e)·logσ(x) - e·logσ(-x): the label-smoothed logistic loss.
at::Tensor smoothed_logistic(const at::Tensor& x, double e) {
  at::Tensor l = -at::log_sigmoid(x);
  if (e == 0) return l;
  return l * (1 - e) - at::log_sigmoid(-x) * e;
}

// log(1 - exp(x)) for x < 0, without cancellation on either side of -ln 2.
at::Tensor log1mexp(const at::Tensor& x) {
  return at::where(x < -0.6931471805599453, at::log1p(-at::exp(x)), at::log(-at::expm1(x)));
}
}  // namespace

PreferenceLossOut preference_loss(const PairLogps& in, const PreferenceLossParams& p) {
  PT_CHECK(p.beta > 0, "preference_loss: beta must be > 0");
  PreferenceLossOut out;
  if (p.kind == DpoLoss::Simpo) {
    // Reference-free: length-normalized policy log-probs, margin γ.
    at::Tensor c = in.chosen / in.chosen_len.clamp_min(1), r = in.rejected / in.rejected_len.clamp_min(1);
    at::Tensor logits = (c - r) - p.simpo_gamma / p.beta;
    out.loss = smoothed_logistic(p.beta * logits, p.label_smoothing);
    out.chosen_reward = (p.beta * c).detach();
    out.rejected_reward = (p.beta * r).detach();
    return out;
  }
  if (p.kind == DpoLoss::Orpo) {
    // Reference-free: the log odds ratio of the answers' mean token probabilities, odds(p) = p / (1 - p).
    at::Tensor c = in.chosen / in.chosen_len.clamp_min(1), r = in.rejected / in.rejected_len.clamp_min(1);
    at::Tensor log_odds = (c - r) - (log1mexp(c) - log1mexp(r));
    out.loss = -p.beta * at::log_sigmoid(log_odds);
    out.chosen_reward = (p.beta * c).detach();
    out.rejected_reward = (p.beta * r).detach();
    return out;
  }
  PT_CHECK(in.ref_chosen.defined() && in.ref_rejected.defined(), "preference_loss: reference log-probs missing");
  at::Tensor chosen_ratio = in.chosen - in.ref_chosen, rejected_ratio = in.rejected - in.ref_rejected;
  at::Tensor delta = chosen_ratio - rejected_ratio;
  switch (p.kind) {
    case DpoLoss::Sigmoid: out.loss = smoothed_logistic(p.beta * delta, p.label_smoothing); break;
    case DpoLoss::Hinge: out.loss = at::relu(1 - p.beta * delta); break;
    case DpoLoss::Ipo: {
      at::Tensor d = chosen_ratio / in.chosen_len.clamp_min(1) - rejected_ratio / in.rejected_len.clamp_min(1);
      out.loss = (d - 1 / (2 * p.beta)).pow(2);
      break;
    }
    case DpoLoss::Robust: {
      const double e = p.label_smoothing;
      PT_CHECK(e >= 0 && e < 0.5, "preference_loss: robust needs label_smoothing in [0, 0.5)");
      out.loss = (-(1 - e) * at::log_sigmoid(p.beta * delta) + e * at::log_sigmoid(-p.beta * delta)) / (1 - 2 * e);
      break;
    }
    case DpoLoss::Simpo:
    case DpoLoss::Orpo: break;  // handled above
  }
  out.chosen_reward = (p.beta * chosen_ratio).detach();
  out.rejected_reward = (p.beta * rejected_ratio).detach();
  return out;
}

KtoOut kto_loss(const at::Tensor& logratios, const at::Tensor& desirable, double z0, const KtoParams& p) {
  at::Tensor chosen = p.desirable_weight * (1 - at::sigmoid(p.beta * (logratios - z0)));
  at::Tensor rejected = p.undesirable_weight * (1 - at::sigmoid(p.beta * (z0 - logratios)));
  return {at::where(desirable, chosen, rejected), (p.beta * logratios).detach()};
}

BradleyTerryOut bradley_terry_loss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin) {
  at::Tensor d = chosen - rejected;
  if (margin.defined()) d = d - margin;
  return {-at::log_sigmoid(d), (chosen + rejected).pow(2)};
}

}  // namespace pt::algo
