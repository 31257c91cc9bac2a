#include "algo/reward_model.h"

#include "algo/preference_losses.h"
#include "core/error.h"
#include "parallel/world.h"
#include "recipe/recipe.h"

namespace pt::algo {

void RewardModel::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  if (!ctx.policy->has_score_head())
    fail("algorithm reward_model needs a score head: set model.head {{type: sequence_classification, num_labels: 1}}, "
         "or start from a *ForSequenceClassification checkpoint");
  if (ctx.policy->config().num_labels != 1)
    fail("algorithm reward_model: {} has a score head with {} labels; a reward model has one (num_labels 1)",
         ctx.recipe->recipe.model.path, ctx.policy->config().num_labels);
}

Prepared RewardModel::prepare(data::StepBatch& batch, bool training) {
  Prepared p = Algorithm::prepare(batch, training);
  // The loss is a mean over the step's pairs, however they are spread over micro-batches and ranks.
  std::vector<double> totals{count_pairs(batch).pairs};
  if (training && ctx_.world->size() > 1) totals = ctx_.world->allreduce_sum(totals);
  p.normalizer = std::max(1.0, totals[0]);
  return p;
}

LossOut RewardModel::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
  // Each answer's score: the score head at the answer's last trained token (its end-of-turn token in
  // a chat), which is what transformers' *ForSequenceClassification returns for the conversation up
  // to the end of the answer — the text the GRPO `model` reward scores (the policy's completion with
  // the end-of-turn token it sampled). Found on the device: the last labelled position of each
  // document, plus one (labels are shifted).
  const auto dev = mb.labels.device();
  auto [c, r] = pair_docs(mb);
  const at::Tensor labelled = labelled_positions(mb);
  const at::Tensor docs_of = mb.token_doc.index_select(0, labelled);
  const at::Tensor last = at::full({mb.num_docs}, -1, labelled.options())
                              .scatter_reduce(0, docs_of, labelled, "amax", /*include_self=*/true) + 1;
  at::Tensor h = ctx_.policy->hidden_states(mb.input);
  auto score = [&](const at::Tensor& docs) {
    return at::matmul(h.index_select(0, last.index_select(0, docs)), ctx_.policy->score_weight().t()).to(at::kFloat).squeeze(1);
  };
  at::Tensor rc = score(c), rr = score(r);
  std::vector<double> margins;
  bool any_margin = false;
  for (const auto& meta : mb.unit_meta) {
    const bool has = meta.is_object() && meta.contains("margin");
    any_margin = any_margin || has;
    margins.push_back(has ? meta["margin"].get<double>() : 0.0);
  }
  at::Tensor margin;
  if (any_margin) margin = at::tensor(margins, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(dev);
  const auto bt = bradley_terry_loss(rc, rr, margin);
  const double pairs = prep.normalizer;
  at::Tensor sum = bt.loss.sum();
  if (o_.center_coefficient > 0) sum = sum + o_.center_coefficient * bt.center.sum();
  LossOut out;
  out.loss = sum / pairs;
  out.metrics.push_back({"loss", sum.detach(), pairs});
  out.metrics.push_back({"accuracy", rc.gt(rr).sum().detach(), pairs});
  out.metrics.push_back({"margin", (rc - rr).sum().detach(), pairs});
  out.metrics.push_back({"rewards/chosen", rc.sum().detach(), pairs});
  out.metrics.push_back({"rewards/rejected", rr.sum().detach(), pairs});
  return out;
}

std::unique_ptr<Algorithm> make_reward_model(const recipe::Recipe& r) {
  return std::make_unique<RewardModel>(r.algorithm.reward_model);
}

}  // namespace pt::algo
