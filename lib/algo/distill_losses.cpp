#include "algo/distill_losses.h"

#include <torch/autograd.h>

#include <cmath>

#include "algo/lm_head.h"
#include "core/error.h"

namespace pt::algo {

namespace {
// exp(t)·(t - s) summed over the vocabulary: KL(P_t || P_s) from log-probs.
at::Tensor kl(const at::Tensor& log_t, const at::Tensor& log_s) { return (log_t.exp() * (log_t - log_s)).sum(-1); }
}  // namespace

at::Tensor generalized_jsd(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const DistillParams& p) {
  PT_CHECK(p.beta >= 0 && p.beta <= 1 && p.temperature > 0, "generalized_jsd: beta in [0, 1], temperature > 0");
  at::Tensor s = student_logits / p.temperature, t = teacher_logits / p.temperature;
  if (p.top_k > 0 && p.top_k < t.size(-1)) {
    at::Tensor idx = std::get<1>(t.topk(p.top_k, -1));
    s = s.gather(-1, idx);
    t = t.gather(-1, idx);
  }
  return generalized_jsd_logprobs(at::log_softmax(s, -1), at::log_softmax(t, -1), p.beta);
}

at::Tensor generalized_jsd_logprobs(const at::Tensor& ls, const at::Tensor& lt, double beta) {
  if (beta == 0) return kl(lt, ls);
  if (beta == 1) return kl(ls, lt);
  // log of the mixture β·P_t + (1-β)·P_s, stably.
  at::Tensor mix = at::logsumexp(at::stack({ls + std::log1p(-beta), lt + std::log(beta)}), 0);
  return beta * kl(lt, mix) + (1 - beta) * kl(ls, mix);
}

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct ChunkedDistill : public torch::autograd::Function<ChunkedDistill> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hs, at::Tensor ws, at::Tensor ht, at::Tensor wt,
                            int64_t vocab, int64_t chunk, double beta, double temperature, int64_t top_k,
                            bool want_grads) {
    const DistillParams p{beta, temperature, top_k};
    const int64_t n = hs.size(0);
    const bool need_h = want_grads && hs.requires_grad(), need_w = want_grads && ws.requires_grad();
    at::Tensor grad_h = need_h ? at::empty_like(hs) : at::Tensor();
    at::Tensor grad_w = need_w ? at::zeros(ws.sizes(), ws.options().dtype(at::kFloat)) : at::Tensor();
    at::Tensor total = at::zeros({}, hs.options().dtype(at::kFloat));
    at::Tensor ws_v = ws.narrow(0, 0, vocab), wt_v = wt.narrow(0, 0, vocab);
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      at::Tensor h = hs.narrow(0, b, m);
      at::Tensor lt = at::matmul(ht.narrow(0, b, m), wt_v.t()).to(at::kFloat);
      at::Tensor ls = at::matmul(h, ws_v.t()).to(at::kFloat);
      if (!(need_h || need_w)) {
        total.add_(generalized_jsd(ls, lt, p).sum());
        continue;
      }
      // The divergence's gradient w.r.t. this chunk's student logits by autograd on the chunk alone;
      // then through the LM head by hand, so the graph never holds [n, V] blocks.
      at::Tensor leaf = ls.requires_grad_(true);
      at::Tensor d;
      {
        at::AutoGradMode enable(true);
        at::Tensor l = generalized_jsd(leaf, lt, p).sum();
        total.add_(l.detach());
        d = torch::autograd::grad({l}, {leaf})[0];
      }
      head_backward(d, ws_v, h, need_h ? grad_h.narrow(0, b, m) : at::Tensor(),
                    need_w ? grad_w.narrow(0, 0, vocab) : at::Tensor());
    }
    ctx->saved_data["grad_h"] = grad_h;
    ctx->saved_data["grad_w"] = need_w ? grad_w.to(ws.scalar_type()) : grad_w;
    return total;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    at::Tensor g = grad_out[0];
    at::Tensor gh = ctx->saved_data["grad_h"].toTensor(), gw = ctx->saved_data["grad_w"].toTensor();
    return {gh.defined() ? gh * g.to(gh.scalar_type()) : at::Tensor(),
            gw.defined() ? gw * g.to(gw.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};
}  // namespace

at::Tensor chunked_distillation(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight, int64_t vocab,
                                int64_t chunk, const DistillParams& p) {
  PT_CHECK(student_hidden.dim() == 2 && teacher_hidden.dim() == 2 && student_hidden.size(0) == teacher_hidden.size(0),
           "chunked_distillation: student and teacher hidden states must cover the same positions");
  PT_CHECK(student_hidden.size(1) == student_weight.size(1) && teacher_hidden.size(1) == teacher_weight.size(1),
           "chunked_distillation: hidden width does not match the LM head");
  PT_CHECK(chunk > 0 && vocab > 0 && vocab <= student_weight.size(0) && vocab <= teacher_weight.size(0),
           "chunked_distillation: bad chunk/vocab");
  if (student_hidden.size(0) == 0) return (student_hidden.sum() * 0 + student_weight.sum() * 0).to(at::kFloat);
  return ChunkedDistill::apply(student_hidden, student_weight, teacher_hidden.detach(), teacher_weight.detach(), vocab,
                               chunk, p.beta, p.temperature, p.top_k, at::GradMode::is_enabled());
}

}  // namespace pt::algo
