#include "algo/sft.h"

#include "algo/losses.h"
#include "data/example.h"
#include "recipe/recipe.h"

namespace pt::algo {

at::Tensor labelled_cross_entropy(model::CausalLM& model, const at::Tensor& hidden, const MicroBatch& mb,
                                  int64_t chunk) {
  // Dropping ignored positions first: with short answers in long prompts most rows carry no label.
  at::Tensor idx = labelled_positions(mb);
  return chunked_cross_entropy(hidden.index_select(0, idx), model.lm_head_weight(), mb.labels.index_select(0, idx),
                               model.vocab_size(), chunk, mb.label_weights, vocab_shard_of(model));
}

LossOut Sft::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
  at::Tensor hidden = ctx_.policy->hidden_states(mb.input);
  at::Tensor sum = labelled_cross_entropy(*ctx_.policy, hidden, mb, ctx_.ce_chunk);
  LossOut out;
  out.loss = prep.normalizer > 0 ? sum / prep.normalizer : sum * 0;
  // The step's loss: per-position weighted mean (the plain token mean without weights).
  out.metrics.push_back({"loss", sum.detach(), prep.normalizer > 0 ? prep.normalizer : 1.0});
  return out;
}

std::unique_ptr<Algorithm> make_sft(const recipe::Recipe&) { return std::make_unique<Sft>(); }

}  // namespace pt::algo
