#include "algo/classify.h"

#include "algo/losses.h"
#include "core/error.h"
#include "data/example.h"
#include "data/options.h"
#include "recipe/recipe.h"
#include "parallel/world.h"

namespace pt::algo {

void Classify::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  projection_ = ctx.policy->has_projection_head();
  token_ = ctx.policy->has_token_head() || projection_;
  if (!ctx.policy->has_score_head() && !token_)
    fail("algorithm classify needs a score head: set model.head.type: sequence_classification or token_classification, "
         "or start from a *ForSequenceClassification / *ForTokenClassification checkpoint");
  // Refused rather than trained frozen: under LoRA the base (the head included) does not train.
  if (ctx.recipe->recipe.model.lora)
    fail("algorithm classify with model.lora: the score head would stay frozen (heads under LoRA are not part of this "
         "build yet); use full fine-tuning");
  for (const auto& s : ctx.recipe->recipe.data.sources)
    if ((s.format == data::Format::TokenClassification) != token_)
      fail("data source '{}' has format {} but the model's head is {}: token_classification records need a "
           "token-classification head, classification records a sequence-classification head",
           s.name.empty() ? s.path : s.name, recipe::enum_name(s.format), token_ ? "per token" : "per sequence");
}

// Per-position labels of a unit (token classification): its metadata's token_labels.
static const nlohmann::json& token_labels(const nlohmann::json& meta) {
  PT_CHECK(meta.is_object() && meta.contains("token_labels"), "classify: a record without token labels reached the loss");
  return meta["token_labels"];
}

Prepared Classify::prepare(data::StepBatch& batch, bool training) {
  Prepared p = Algorithm::prepare(batch, training);
  double records = 0;
  for (const auto& mb : p.micro) {
    if (!token_) {
      records += static_cast<double>(mb.units.size());
      continue;
    }
    for (const auto& meta : mb.unit_meta)
      for (const auto& l : token_labels(meta)) records += l.get<int64_t>() != data::kIgnoreIndex;
  }
  std::vector<double> totals{records};
  if (training && ctx_.world->size() > 1) totals = ctx_.world->allreduce_sum(totals);
  p.normalizer = std::max(1.0, totals[0]);
  return p;
}

LossOut Classify::token_loss(const MicroBatch& mb, const Prepared& prep) {
  const auto bounds = mb.input.boundaries();
  std::vector<int64_t> pos, cls;
  for (size_t u = 0; u < mb.units.size(); ++u) {
    const auto start = bounds[static_cast<size_t>(mb.units[u].front())];
    const auto& labels = token_labels(mb.unit_meta[u]);
    for (size_t i = 0; i < labels.size(); ++i) {
      const int64_t c = labels[i].get<int64_t>();
      if (c == data::kIgnoreIndex) continue;
      const int64_t classes = projection_ ? ctx_.policy->projection_weight().size(0) : ctx_.policy->config().num_labels;
      if (c >= classes)
        fail("classify: label {} at position {} of {} is outside [0, {})", c, i,
             mb.unit_keys.size() > u ? fmt::format("record {}", mb.unit_keys[u].second) : std::string("a record"), classes);
      pos.push_back(start + static_cast<int64_t>(i));
      cls.push_back(c);
    }
  }
  const auto dev = mb.labels.device();
  at::Tensor h = ctx_.policy->hidden_states(mb.input);
  LossOut out;
  if (pos.empty()) {
    out.loss = h.sum() * 0;
    return out;
  }
  at::Tensor idx = at::tensor(pos, at::TensorOptions().dtype(at::kLong)).to(dev);
  at::Tensor y = at::tensor(cls, at::TensorOptions().dtype(at::kLong)).to(dev);
  if (projection_) {
    // A separate id space can be as large as a vocabulary: the chunked CE, and argmax chunk by chunk.
    const at::Tensor w = ctx_.policy->projection_weight(), hs = h.index_select(0, idx);
    at::Tensor sum = chunked_cross_entropy(hs, w, y, w.size(0), ctx_.ce_chunk);
    at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(dev));
    {
      at::NoGradGuard ng;
      for (int64_t b = 0; b < hs.size(0); b += ctx_.ce_chunk) {
        const int64_t m = std::min<int64_t>(ctx_.ce_chunk, hs.size(0) - b);
        correct += at::matmul(hs.narrow(0, b, m), w.t()).argmax(1).eq(y.narrow(0, b, m)).sum();
      }
    }
    out.loss = sum / prep.normalizer;
    out.metrics.push_back({"loss", sum.detach(), prep.normalizer});
    out.metrics.push_back({"accuracy", correct, prep.normalizer});
    return out;
  }
  at::Tensor logits = ctx_.policy->token_score_logits(h.index_select(0, idx));  // [T, L]
  at::Tensor sum = at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
  out.loss = sum / prep.normalizer;
  out.metrics.push_back({"loss", sum.detach(), prep.normalizer});
  out.metrics.push_back({"accuracy", logits.argmax(1).eq(y).sum(), prep.normalizer});
  return out;
}

LossOut Classify::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
  if (token_) return token_loss(mb, prep);
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
