#include "algo/logprobs.h"

#include <torch/autograd.h>


#include "algo/head_grad_buffer.h"
#include "algo/lm_head.h"
#include "core/error.h"
#include "model/autocast.h"
#include "model/grad_accumulation.h"

namespace pt::algo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct ChunkedLogprobs : public torch::autograd::Function<ChunkedLogprobs> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight, at::Tensor labels,
                            int64_t vocab, int64_t chunk) {
    const int64_t n = hidden.size(0);
    at::Tensor out = at::empty({n}, hidden.options().dtype(at::kFloat));
    at::Tensor lse = at::empty({n}, hidden.options().dtype(at::kFloat));
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      at::Tensor logits = head_logits(hidden, weight, b, m, vocab);
      at::Tensor y = labels.narrow(0, b, m).unsqueeze(1);
      at::Tensor target = logits.gather(1, y).squeeze(1);
      // Fused log-softmax in place (the kernel reads a row before writing it); lse = logit - logp.
      at::_log_softmax_out(logits, logits, 1, false);
      at::Tensor lp = logits.gather(1, y).squeeze(1);
      out.narrow(0, b, m).copy_(lp);
      lse.narrow(0, b, m).copy_(target - lp);
    }
    ctx->save_for_backward({hidden, weight, labels, lse});
    ctx->saved_data["autocast"] = model::AutocastState::of(hidden).pack();
    ctx->saved_data["vocab"] = vocab;
    ctx->saved_data["chunk"] = chunk;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t vocab = ctx->saved_data["vocab"].toInt(), chunk = ctx->saved_data["chunk"].toInt();
    const model::AutocastScope as_in_forward(model::AutocastState::unpack(ctx->saved_data["autocast"].toInt()));
    const bool need_h = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    at::Tensor g = grad_out[0].to(at::kFloat);
    const int64_t n = hidden.size(0);
    at::Tensor grad_h = need_h ? at::empty_like(hidden) : at::Tensor();
    // On the CPU the [V, H] gradient reuses one buffer and, inside the trainer's step, is added into
    // .grad here: autograd then gets no [V, H] tensor to sum with a tied embedding's sparse gradient
    // (a dense copy) and accumulate (model/grad_accumulation.h). CUDA's caching allocator reuses blocks.
    const auto w_opts = weight.options().dtype(at::kFloat);
    const bool reuse = need_w && hidden.is_cpu() && weight.scalar_type() == at::kFloat;
    at::Tensor grad_w = !need_w ? at::Tensor() : reuse ? HeadGradBuffer::take(weight.sizes(), w_opts)
                                                       : at::zeros(weight.sizes(), w_opts);
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      // d logp_i / d logits_i = onehot(y_i) - softmax_i, scaled by the incoming gradient g_i.
      at::Tensor d = head_logits(hidden, weight, b, m, vocab);
      at::Tensor gi = g.narrow(0, b, m).unsqueeze(1);
      d.sub_(lse.narrow(0, b, m).unsqueeze(1)).exp_().mul_(-gi);
      d.scatter_add_(1, labels.narrow(0, b, m).unsqueeze(1), gi);
      head_backward(d, weight, hidden.narrow(0, b, m), need_h ? grad_h.narrow(0, b, m) : at::Tensor(),
                    need_w ? grad_w : at::Tensor());
    }
    if (reuse && model::may_accumulate_into(weight)) grad_w = HeadGradBuffer::add_into_grad(weight, std::move(grad_w), 1.0);
    return {grad_h, grad_w.defined() ? grad_w.to(weight.scalar_type()) : at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                            int64_t vocab_size, int64_t chunk, const VocabShard& shard) {
  PT_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
           "chunked_logprobs: hidden [n, H] and weight [V, H] expected");
  PT_CHECK(labels.dim() == 1 && labels.size(0) == hidden.size(0), "chunked_logprobs: one label per row expected");
  PT_CHECK(chunk > 0 && vocab_size > 0 && (shard.split() || vocab_size <= weight.size(0)),
           "chunked_logprobs: bad chunk/vocab");
  if (hidden.size(0) == 0) return at::zeros({0}, hidden.options().dtype(at::kFloat)) + (hidden.sum() + weight.sum()) * 0;
  if (shard.split()) return vocab_parallel_logprobs(hidden, weight, labels, vocab_size, chunk, shard);
  return ChunkedLogprobs::apply(hidden, weight, labels, vocab_size, chunk);
}

at::Tensor plain_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                          int64_t vocab_size) {
  at::Tensor logits = at::matmul(hidden, weight.narrow(0, 0, vocab_size).t()).to(at::kFloat);
  return at::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
}

at::Tensor segment_sum(const at::Tensor& values, const at::Tensor& segment, int64_t num_segments) {
  return at::zeros({num_segments}, values.options()).index_add(0, segment, values);
}

}  // namespace pt::algo
