// Vocabulary expansion: new embedding (and untied LM-head) rows for tokens added to the tokenizer,
// initialized to the mean of the existing rows (HF's mean_resizing without its small random
// perturbation, so a run is reproducible from its recipe), saved at the new vocab_size.
#include "core/error.h"
#include "model/causal_lm_impl.h"

namespace pt::model {

void CausalLM::resize_vocab(int64_t new_vocab) {
  auto& im = *impl_;
  const int64_t old = im.cfg.vocab_size;
  PT_CHECK(new_vocab > old, "resize_vocab: {} is not larger than the vocabulary of {}", new_vocab, old);
  if (im.sequence_head_only())
    fail("{}: a model without an LM head cannot grow its vocabulary", im.opts.path);
  if (im.embed_lora || im.head_lora)
    fail("new tokens with LoRA on embed_tokens / lm_head are not supported: their rows would be adapters of rows "
         "that do not exist in the base model");
  const int64_t m = im.opts.vocab_pad_multiple;
  const int64_t padded = (new_vocab + m - 1) / m * m;
  const bool trainable = im.embed.requires_grad();
  auto grow = [&](const at::Tensor& w) {
    at::NoGradGuard ng;
    at::Tensor out = at::zeros({padded, w.size(1)}, w.options());
    out.narrow(0, 0, old).copy_(w.narrow(0, 0, old));
    at::Tensor mean = w.narrow(0, 0, old).to(at::kFloat).mean(0).to(w.scalar_type());
    out.narrow(0, old, new_vocab - old).copy_(mean.unsqueeze(0).expand({new_vocab - old, w.size(1)}));
    return out.requires_grad_(trainable);
  };
  const bool tied = im.lm_head.defined() && im.lm_head.is_same(im.embed);
  at::Tensor embed = grow(im.embed);
  at::Tensor head = tied ? embed : im.lm_head.defined() ? grow(im.lm_head) : at::Tensor();
  for (auto& [name, t] : im.base_params) {
    if (t.is_same(im.embed)) t = embed;
    else if (im.lm_head.defined() && t.is_same(im.lm_head)) t = head;
  }
  im.embed = embed;
  im.lm_head = head;
  im.padded_vocab = padded;
  im.cfg.vocab_size = new_vocab;
  im.cfg.raw["vocab_size"] = new_vocab;
}

void CausalLM::train_new_rows_with_lora(int64_t first_row) {
  auto& im = *impl_;
  PT_CHECK(first_row > 0 && first_row < im.cfg.vocab_size, "train_new_rows_with_lora: {} is not inside the vocabulary of {}",
           first_row, im.cfg.vocab_size);
  PT_CHECK(has_adapters(), "train_new_rows_with_lora: the model has no LoRA adapters");
  const int64_t n = im.cfg.vocab_size - first_row;
  const auto& N = im.arch->names;
  im.new_rows_from = first_row;
  {
    at::NoGradGuard ng;
    im.base_embed_rows = im.embed.narrow(0, first_row, n).clone();
    im.new_embed_rows = im.base_embed_rows.clone();
    const bool tied = im.lm_head.is_same(im.embed);
    if (!tied) {
      im.base_head_rows = im.lm_head.narrow(0, first_row, n).clone();
      im.new_head_rows = im.base_head_rows.clone();
    }
  }
  im.new_embed_rows.requires_grad_(true);
  im.lora_params.emplace_back("base_model.model." + strip_weight(N.embed) + ".token_adapter.trainable_tokens_delta",
                              im.new_embed_rows);
  if (im.new_head_rows.defined()) {
    im.new_head_rows.requires_grad_(true);
    im.lora_params.emplace_back("base_model.model." + strip_weight(N.lm_head) + ".token_adapter.trainable_tokens_delta",
                                im.new_head_rows);
  }
}

int64_t CausalLM::new_token_rows_from() const { return impl_->new_embed_rows.defined() ? impl_->new_rows_from : 0; }

void CausalLM::train_rows_from(int64_t first_row) {
  auto& im = *impl_;
  PT_CHECK(first_row > 0 && first_row < im.cfg.vocab_size, "train_rows_from: {} is not inside the vocabulary of {}",
           first_row, im.cfg.vocab_size);
  if (has_adapters()) fail("training new token rows alone does not combine with LoRA");
  im.frozen_rows = first_row;
  for (auto& [name, t] : im.base_params) {
    const bool rows = t.is_same(im.embed) || (im.lm_head.defined() && t.is_same(im.lm_head));
    t.requires_grad_(rows);
    if (rows)
      t.register_hook([first_row](at::Tensor g) {
        g = g.clone();
        g.narrow(0, 0, first_row).zero_();
        return g;
      });
  }
}

}  // namespace pt::model
