#include "algo/losses.h"

#include <torch/autograd.h>

#include "algo/column_softmax.h"
#include "algo/head_grad_buffer.h"
#include "algo/lm_head.h"
#include "core/error.h"
#include "model/grad_accumulation.h"

namespace pt::algo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// One chunk on the fp32 CPU path, in the transposed layout head_logits_t writes: the loss summed into
// `total`, the gradients written into grad_h's rows (when defined) and added to grad_w (when defined).
void transposed_chunk(const at::Tensor& h, const at::Tensor& weight, const at::Tensor& labels,
                      const at::Tensor& token_weights, int64_t vocab, at::Tensor& total, at::Tensor grad_h,
                      at::Tensor& grad_w) {
  const int64_t m = h.size(0);
  at::Tensor lt = head_logits_t(h, weight, 0, m);  // [V_padded, m]
  ColumnLse lse = column_logsumexp(lt, vocab);
  at::Tensor at_label = lt.view(-1).index_select(0, labels * m + at::arange(m, labels.options()));
  at::Tensor w = token_weights.defined() ? token_weights.to(at::kFloat) : at::ones({m}, lse.max.options());
  total.add_((((lse.max - at_label) + lse.log_sum) * w).sum());
  if (!grad_h.defined() && !grad_w.defined()) return;
  column_softmax_minus_onehot_(lt, lse, labels, w, vocab);
  if (grad_h.defined()) at::mm_out(grad_h, lt.t(), weight);
  if (grad_w.defined()) grad_w.addmm_(lt, h);
}

struct ChunkedCE : public torch::autograd::Function<ChunkedCE> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight, at::Tensor labels,
                            at::Tensor token_weights, int64_t vocab, int64_t chunk, bool want_grads) {
    const int64_t n = hidden.size(0), padded = weight.size(0);
    // Decided by the caller: inside forward, autograd has not recorded which inputs need gradients.
    const bool need_h = want_grads && hidden.requires_grad(), need_w = want_grads && weight.requires_grad();
    at::Tensor grad_h = need_h ? at::empty_like(hidden) : at::Tensor();
    const bool direct = head_logits_direct(hidden, weight);
    const auto w_opts = weight.options().dtype(at::kFloat);
    // CUDA's caching allocator reuses freed blocks already.
    const bool reuse = hidden.is_cpu();
    at::Tensor grad_w = !need_w ? at::Tensor() : reuse ? HeadGradBuffer::take(weight.sizes(), w_opts)
                                                       : at::zeros(weight.sizes(), w_opts);
    at::Tensor total = at::zeros({}, hidden.options().dtype(at::kFloat));
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      at::Tensor h = hidden.narrow(0, b, m);
      if (direct) {
        transposed_chunk(h, weight, labels.narrow(0, b, m),
                         token_weights.numel() ? token_weights.narrow(0, b, m) : at::Tensor(), vocab, total,
                         need_h ? grad_h.narrow(0, b, m) : at::Tensor(), grad_w);
        continue;
      }
      at::Tensor y = labels.narrow(0, b, m).unsqueeze(1);
      at::Tensor logits = head_logits(hidden, weight, b, m, vocab);  // [m, V_padded], padding at -inf
      // One fused pass gives log-softmax in place (the kernel reads a row before writing it); the CE
      // is its negative at the label, and its gradient softmax - onehot follows with one exp.
      at::_log_softmax_out(logits, logits, 1, false);
      at::Tensor w = token_weights.numel() ? token_weights.narrow(0, b, m).to(at::kFloat).unsqueeze(1) : at::Tensor();
      total.sub_(w.defined() ? (logits.gather(1, y) * w).sum() : logits.gather(1, y).sum());
      if (need_h || need_w) {
        logits.exp_();
        logits.scatter_add_(1, y, at::full({m, 1}, -1.0f, logits.options()));
        if (w.defined()) logits.mul_(w);
        head_backward(logits, weight, h, need_h ? grad_h.narrow(0, b, m) : at::Tensor(), need_w ? grad_w : at::Tensor());
      }
    }
    ctx->saved_data["grad_h"] = grad_h;
    ctx->saved_data["grad_w"] = need_w ? grad_w.to(weight.scalar_type()) : grad_w;
    // The weight itself when its gradient may go straight into .grad (decided again in backward).
    if (need_w && reuse && model::may_accumulate_into(weight)) ctx->saved_data["weight"] = weight;
    return total;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    // The gradients were formed in the forward pass and are owned here: scale them in place rather
    // than allocating a second [V, H] tensor.
    at::Tensor g = grad_out[0];
    at::Tensor gh = ctx->saved_data["grad_h"].toTensor();
    at::Tensor gw = ctx->saved_data["grad_w"].toTensor();
    at::Tensor weight = ctx->saved_data.count("weight") ? ctx->saved_data["weight"].toTensor() : at::Tensor();
    ctx->saved_data.clear();
    if (gh.defined()) gh.mul_(g.to(gh.scalar_type()));
    if (gw.defined() && weight.defined() && model::may_accumulate_into(weight)) {
      // Fused: added into .grad here, so autograd gets no [V, H] tensor to sum and accumulate.
      gw = HeadGradBuffer::add_into_grad(weight, std::move(gw), g.item<double>());
    }
    if (gw.defined()) gw.mul_(g.to(gw.scalar_type()));
    return {gh, gw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                 int64_t vocab_size, int64_t chunk, const at::Tensor& weights,
                                 const VocabShard& shard) {
  PT_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
           "chunked_cross_entropy: hidden [n, H] and weight [V, H] expected");
  PT_CHECK(labels.dim() == 1 && labels.size(0) == hidden.size(0), "chunked_cross_entropy: one label per row expected");
  PT_CHECK(chunk > 0 && vocab_size > 0 && (shard.split() || vocab_size <= weight.size(0)),
           "chunked_cross_entropy: bad chunk/vocab");
  PT_CHECK(!weights.defined() || (weights.dim() == 1 && weights.size(0) == hidden.size(0)),
           "chunked_cross_entropy: one weight per row expected");
  if (hidden.size(0) == 0) return (hidden.sum() * 0 + weight.sum() * 0).to(at::kFloat);
  if (shard.split()) return vocab_parallel_cross_entropy(hidden, weight, labels, vocab_size, chunk, weights, shard);
  // Autograd functions take no undefined inputs: "no weights" is an empty tensor.
  return ChunkedCE::apply(hidden, weight, labels,
                          weights.defined() ? weights.detach() : at::empty({0}, hidden.options().dtype(at::kFloat)),
                          vocab_size, chunk, at::GradMode::is_enabled());
}

at::Tensor plain_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                               int64_t vocab_size, const at::Tensor& weights) {
  at::Tensor logits = at::matmul(hidden, weight.narrow(0, 0, vocab_size).t()).to(at::kFloat);
  if (!weights.defined()) return at::cross_entropy_loss(logits, labels, {}, at::Reduction::Sum);
  return (at::cross_entropy_loss(logits, labels, {}, at::Reduction::None) * weights.to(at::kFloat)).sum();
}

}  // namespace pt::algo
