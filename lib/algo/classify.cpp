#include "algo/classify.h"

#include "core/error.h"
#include "parallel/world.h"

namespace pt::algo {

void Classify::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  if (!ctx.policy->has_score_head())
    fail("algorithm classify needs a score head: set model.head.type: sequence_classification, or start from a "
         "*ForSequenceClassification checkpoint");
}

Prepared Classify::prepare(data::StepBatch& batch, bool training) {
  Prepared p = Algorithm::prepare(batch, training);
  double records = 0;
  for (const auto& mb : p.micro) records += static_cast<double>(mb.units.size());
  std::vector<double> totals{records};
  if (training && ctx_.world->size() > 1) totals = ctx_.world->allreduce_sum(totals);
  p.normalizer = std::max(1.0, totals[0]);
  p.totals = totals;
  return p;
}

LossOut Classify::loss(const MicroBatch& mb, const Prepared& prep) {
  const auto bounds = mb.input.boundaries();
  std::vector<int64_t> last;
  std::vector<double> labels;
  for (size_t u = 0; u < mb.units.size(); ++u) {
    const int64_t d = mb.units[u].back();
    last.push_back(bounds[static_cast<size_t>(d) + 1] - 1);
    const auto& meta = mb.unit_meta[u];
    PT_CHECK(meta.is_object() && meta.contains("label"), "classify: a record without a label reached the loss");
    labels.push_back(meta["label"].get<double>());
  }
  const auto dev = mb.labels.device();
  at::Tensor idx = at::tensor(last, at::TensorOptions().dtype(at::kLong)).to(dev);
  at::Tensor h = ctx_.policy->hidden_states(mb.input).index_select(0, idx);
  at::Tensor logits = at::matmul(h, ctx_.policy->score_weight().t()).to(at::kFloat);  // [U, L]
  const int64_t L = logits.size(1);
  LossOut out;
  at::Tensor sum, correct;
  if (L == 1) {
    at::Tensor y = at::tensor(labels, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(dev);
    sum = (logits.squeeze(1) - y).pow(2).sum();
  } else {
    std::vector<int64_t> cls;
    for (double v : labels) {
      const auto c = static_cast<int64_t>(v);
      PT_CHECK(c == v && c >= 0 && c < L, "classify: label {} is not a class index in [0, {})", v, L);
      cls.push_back(c);
    }
    at::Tensor y = at::tensor(cls, at::TensorOptions().dtype(at::kLong)).to(dev);
    sum = at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
    correct = logits.argmax(1).eq(y).sum();
  }
  out.loss = sum / prep.normalizer;
  out.metrics.push_back({"loss", sum.detach(), prep.normalizer});
  if (correct.defined()) out.metrics.push_back({"accuracy", correct, prep.normalizer});
  return out;
}

std::unique_ptr<Algorithm> make_classify(const recipe::Recipe&) { return std::make_unique<Classify>(); }

}  // namespace pt::algo
