#include "algo/sft.h"

#include "algo/losses.h"
#include "recipe/recipe.h"

namespace pt::algo {

at::Tensor labelled_cross_entropy(model::CausalLM& model, const at::Tensor& hidden, const at::Tensor& labels,
                                  int64_t chunk) {
  // Dropping ignored positions first: with short answers in long prompts most rows carry no label.
  at::Tensor idx = labels.ne(-100).nonzero().squeeze(1);
  return chunked_cross_entropy(hidden.index_select(0, idx), model.lm_head_weight(), labels.index_select(0, idx),
                               model.vocab_size(), chunk);
}

LossOut Sft::micro_step(model::CausalLM& model, const MicroBatch& mb, double normalizer) {
  at::Tensor hidden = model.hidden_states(mb.input);
  at::Tensor sum = labelled_cross_entropy(model, hidden, mb.labels, chunk_);
  LossOut out;
  out.loss_sum = sum.item<double>();
  out.trained = mb.num_trained;
  out.loss = normalizer > 0 ? sum / normalizer : sum * 0;
  return out;
}

std::unique_ptr<Algorithm> make_sft(const recipe::Recipe& r) { return std::make_unique<Sft>(r.trainer.ce_chunk_tokens); }

}  // namespace pt::algo
