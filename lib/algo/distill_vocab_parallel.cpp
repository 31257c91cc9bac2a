// Knowledge distillation over a vocabulary split across a tensor-parallel group (distill_losses.h).
#include <torch/autograd.h>

#include <limits>

#include "algo/distill_losses.h"
#include "algo/lm_head.h"
#include "core/error.h"

namespace pt::algo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// log sum_v exp(x[:, v]) over the whole vocabulary from this rank's columns [m, V_local] (a rank
// may hold no real column: it adds nothing).
at::Tensor group_lse(const at::Tensor& x, model::TpGroup* g) {
  const int64_t m = x.size(0);
  at::Tensor local_max = x.size(1) > 0 ? x.amax(1) : at::full({m}, kNegInf, x.options());
  at::Tensor maxes = g->all_gather(local_max.contiguous()).view({g->size(), m}).amax(0);
  at::Tensor sum = (x - maxes.unsqueeze(1)).exp().sum(1).contiguous();
  g->all_reduce_sum(sum);
  return sum.log() + maxes;
}

// The divergence of one chunk summed over its rows, and (`need`) its gradient w.r.t. `x`.
struct ChunkDivergence {
  at::Tensor sum, grad;
};

template <typename F>
ChunkDivergence sum_and_grad(F&& divergence, const at::Tensor& x, bool need) {
  ChunkDivergence out;
  if (!need) {
    out.sum = divergence(x).sum();
    return out;
  }
  at::Tensor leaf = x.detach().requires_grad_(true);
  at::AutoGradMode enable(true);
  at::Tensor l = divergence(leaf).sum();
  out.sum = l.detach();
  out.grad = torch::autograd::grad({l}, {leaf})[0];
  return out;
}

// The whole vocabulary: this rank's columns' part of the divergence, and the gradient w.r.t. its
// (tempered) student logits.
ChunkDivergence full_vocab(const at::Tensor& s, const at::Tensor& t, double beta, bool need, model::TpGroup* g) {
  at::Tensor ls = s - group_lse(s, g).unsqueeze(1), lt = t - group_lse(t, g).unsqueeze(1);
  ChunkDivergence out = sum_and_grad([&](const at::Tensor& x) { return generalized_jsd_logprobs(x, lt, beta); }, ls, need);
  if (!need) return out;
  // Through the normalizer: d/ds_j = g_j - p_j * sum_v g_v, the sum over the whole vocabulary.
  at::Tensor total = out.grad.sum(1).contiguous();
  g->all_reduce_sum(total);
  out.grad = out.grad - ls.exp() * total.unsqueeze(1);
  return out;
}

// Restricted to the teacher's top k ids of the whole vocabulary: the whole divergence (the same on
// every rank), and the gradient w.r.t. this rank's (tempered) student logits.
ChunkDivergence top_k_divergence(const at::Tensor& s, const at::Tensor& t, const DistillParams& p, int64_t offset,
                                 bool need, model::TpGroup* g) {
  const int64_t m = s.size(0), real = s.size(1), k = p.top_k;
  // Every rank's k best teacher ids (padded with -inf when it holds fewer), then the best k of those.
  at::Tensor vals = at::full({m, k}, kNegInf, t.options());
  at::Tensor ids = at::full({m, k}, -1, t.options().dtype(at::kLong));
  if (const int64_t kk = std::min(k, real); kk > 0) {
    auto [v, i] = t.topk(kk, 1);
    vals.narrow(1, 0, kk).copy_(v);
    ids.narrow(1, 0, kk).copy_(i + offset);
  }
  const int n = g->size();
  at::Tensor all_vals = g->all_gather(vals.contiguous()).view({n, m, k}).permute({1, 0, 2}).reshape({m, n * k});
  at::Tensor all_ids = g->all_gather(ids.contiguous()).view({n, m, k}).permute({1, 0, 2}).reshape({m, n * k});
  at::Tensor pos = std::get<1>(all_vals.topk(k, 1));
  at::Tensor t_sel = all_vals.gather(1, pos), sel_ids = all_ids.gather(1, pos);
  // The student's logits at the chosen ids: each rank fills the ones it holds, summed over the group.
  at::Tensor local = sel_ids - offset;
  at::Tensor here = local.ge(0).logical_and(local.lt(real));
  at::Tensor col = local.clamp(0, std::max<int64_t>(real - 1, 0));
  at::Tensor s_sel = real > 0 ? s.gather(1, col).masked_fill(here.logical_not(), 0) : at::zeros({m, k}, s.options());
  s_sel = s_sel.contiguous();
  g->all_reduce_sum(s_sel);
  const DistillParams plain{p.beta, 1.0, 0};  // already tempered and restricted
  ChunkDivergence out = sum_and_grad([&](const at::Tensor& x) { return generalized_jsd(x, t_sel, plain); }, s_sel, need);
  if (!need) return out;
  at::Tensor d = out.grad;
  out.grad = at::zeros_like(s);
  if (real > 0) out.grad.scatter_add_(1, col, d.masked_fill(here.logical_not(), 0));
  return out;
}

struct VocabParallelDistill : public torch::autograd::Function<VocabParallelDistill> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hs, at::Tensor ws, at::Tensor ht, at::Tensor wt,
                            int64_t vocab, int64_t chunk, double beta, double temperature, int64_t top_k,
                            int64_t offset, int64_t group, bool want_grads) {
    auto* g = reinterpret_cast<model::TpGroup*>(group);
    const DistillParams p{beta, temperature, top_k};
    const int64_t n = hs.size(0);
    const int64_t real = std::clamp<int64_t>(vocab - offset, 0, ws.size(0));
    const bool need_h = want_grads && hs.requires_grad(), need_w = want_grads && ws.requires_grad();
    at::Tensor grad_h = need_h ? at::zeros_like(hs, at::MemoryFormat::Contiguous) : at::Tensor();
    at::Tensor grad_w = need_w ? at::zeros(ws.sizes(), ws.options().dtype(at::kFloat)) : at::Tensor();
    at::Tensor local_sum = at::zeros({}, hs.options().dtype(at::kFloat));
    at::Tensor replicated_sum = at::zeros({}, hs.options().dtype(at::kFloat));
    at::Tensor ws_v = ws.narrow(0, 0, real), wt_v = wt.narrow(0, 0, real);
    // Top-k: each chunk's sum is already the whole divergence; otherwise this rank's columns' part.
    const bool restricted = top_k > 0 && top_k < vocab;
    const bool need = need_h || need_w;
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      at::Tensor h = hs.narrow(0, b, m);
      at::Tensor s = at::matmul(h, ws_v.t()).to(at::kFloat) / temperature;
      at::Tensor t = at::matmul(ht.narrow(0, b, m), wt_v.t()).to(at::kFloat) / temperature;
      ChunkDivergence c = restricted ? top_k_divergence(s, t, p, offset, need, g) : full_vocab(s, t, beta, need, g);
      (restricted ? replicated_sum : local_sum).add_(c.sum);
      if (!need) continue;
      at::Tensor d = c.grad / temperature;  // through the tempering of the logits
      head_backward(d, ws_v, h, need_h ? grad_h.narrow(0, b, m) : at::Tensor(),
                    need_w ? grad_w.narrow(0, 0, real) : at::Tensor());
    }
    at::Tensor total = local_sum.reshape({1}).contiguous();
    g->all_reduce_sum(total);
    // The hidden states feed every rank's rows: their gradient is the sum of the ranks' parts.
    if (need_h) g->all_reduce_sum(grad_h);
    ctx->saved_data["grad_h"] = grad_h;
    ctx->saved_data["grad_w"] = need_w ? grad_w.to(ws.scalar_type()) : grad_w;
    return total.squeeze(0) + replicated_sum;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    at::Tensor g = grad_out[0];
    at::Tensor gh = ctx->saved_data["grad_h"].toTensor(), gw = ctx->saved_data["grad_w"].toTensor();
    ctx->saved_data.clear();
    if (gh.defined()) gh.mul_(g.to(gh.scalar_type()));
    if (gw.defined()) gw.mul_(g.to(gw.scalar_type()));
    return {gh, gw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor vocab_parallel_distillation(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                       const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                       int64_t vocab, int64_t chunk, const DistillParams& p, const VocabShard& shard) {
  if (!shard.split())
    return chunked_distillation(student_hidden, student_weight, teacher_hidden, teacher_weight, vocab, chunk, p);
  PT_CHECK(p.beta >= 0 && p.beta <= 1 && p.temperature > 0, "vocab_parallel_distillation: beta in [0, 1], temperature > 0");
  PT_CHECK(student_hidden.dim() == 2 && teacher_hidden.dim() == 2 && student_hidden.size(0) == teacher_hidden.size(0),
           "vocab_parallel_distillation: student and teacher hidden states must cover the same positions");
  PT_CHECK(student_weight.size(0) == teacher_weight.size(0),
           "vocab_parallel_distillation: student and teacher hold different vocabulary rows ({} and {})",
           student_weight.size(0), teacher_weight.size(0));
  PT_CHECK(chunk > 0 && vocab > 0, "vocab_parallel_distillation: bad chunk/vocab");
  // Every rank takes part in the collectives, even with no position here.
  return VocabParallelDistill::apply(student_hidden, student_weight, teacher_hidden.detach(), teacher_weight.detach(),
                                     vocab, chunk, p.beta, p.temperature, p.top_k, shard.offset,
                                     reinterpret_cast<int64_t>(shard.group), at::GradMode::is_enabled());
}

}  // namespace pt::algo
