#pragma once
// Pairwise preference losses (the DPO family and SimPO) as pure functions of sequence log-probs.
// Every input is per pair, [P]; the output is the per-pair loss [P] (the caller reduces).
#include <ATen/ATen.h>

#include "algo/options.h"

namespace pt::algo {


struct PreferenceLossParams {
  DpoLoss kind = DpoLoss::Sigmoid;
  double beta = 0.1;
  // sigmoid: conservative DPO (cDPO: -(1-e)·logσ(βΔ) - e·logσ(-βΔ)); robust: the unbiased form;
  // simpo: smoothing of its sigmoid. 0 = plain.
  double label_smoothing = 0;
  double simpo_gamma = 0.5;  // SimPO target margin γ (the logits are shifted by γ/β)
};

struct PairLogps {
  at::Tensor chosen, rejected;          // policy: summed log-probs of each answer's tokens
  at::Tensor ref_chosen, ref_rejected;  // reference (ignored by SimPO, may be undefined there)
  at::Tensor chosen_len, rejected_len;  // trained tokens per answer (IPO and SimPO normalize by length)
};

struct PreferenceLossOut {
  at::Tensor loss;               // [P]
  at::Tensor chosen_reward;      // [P], detached: β·(logπ - logπ_ref), SimPO and ORPO: β·mean logπ
  at::Tensor rejected_reward;    // [P], detached
};

// sigmoid (DPO), ipo, hinge and robust follow TRL's DPOTrainer; simpo follows TRL's CPOTrainer
// (loss_type "simpo"); orpo is ORPOTrainer's odds-ratio term, -beta·logσ(log odds(mean token prob of
// chosen) - log odds(rejected)) (its NLL term is the caller's, DpoOptions::nll_weight). IPO uses
// log-ratios averaged per answer token, as TRL does.
PreferenceLossOut preference_loss(const PairLogps& in, const PreferenceLossParams& p);

// KTO (TRL's KTOTrainer, loss_type kto) on unpaired examples: with log-ratio x = log pi - log pi_ref of
// each completion and the batch's KL reference point z0 (>= 0, no gradient), a desirable example
// loses lambda_D (1 - sigma(beta (x - z0))), an undesirable one lambda_U (1 - sigma(beta (z0 - x))).
// Inputs [N] (desirable: bool); outputs the per-example loss and reward beta x (detached).
struct KtoParams {
  double beta = 0.1, desirable_weight = 1.0, undesirable_weight = 1.0;
};
struct KtoOut {
  at::Tensor loss, reward;
};
KtoOut kto_loss(const at::Tensor& logratios, const at::Tensor& desirable, double z0, const KtoParams& p);

// Bradley-Terry reward-model loss on the scores of each pair's answers, [P] each: per pair
// -log sigma(r_chosen - r_rejected - margin) (margin [P] or undefined = 0), and the centring term's
// per-pair summand (r_chosen + r_rejected)^2. TRL's RewardTrainer loss is the mean of the first plus
// center_rewards_coefficient times the mean of the second.
struct BradleyTerryOut {
  at::Tensor loss;    // [P]
  at::Tensor center;  // [P]
};
BradleyTerryOut bradley_terry_loss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin);

}  // namespace pt::algo
