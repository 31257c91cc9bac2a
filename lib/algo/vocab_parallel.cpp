#include "algo/vocab_parallel.h"

#include <limits>

#include <torch/autograd.h>

#include "algo/lm_head.h"
#include "core/error.h"
#include "model/autocast.h"
#include "model/causal_lm.h"

namespace pt::algo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

model::TpGroup* group_of(AutogradContext* ctx) {
  return reinterpret_cast<model::TpGroup*>(ctx->saved_data["group"].toInt());
}

// One chunk's statistics over the whole vocabulary from this rank's logits [m, V_local] (fp32,
// padding and other ranks' ids absent): log-sum-exp and the target logit per row, as every rank
// sees them.
struct ChunkStats {
  at::Tensor lse, target;  // [m]
  at::Tensor local_label;  // [m] the label's column here (clamped), and whether it is here
  at::Tensor here;
};

ChunkStats chunk_stats(const at::Tensor& logits, const at::Tensor& labels, int64_t offset, model::TpGroup* g) {
  ChunkStats s;
  const int64_t m = logits.size(0), cols = logits.size(1);
  // A common shift for the exponentials: the row max over the group (a row whose ids all lie
  // elsewhere contributes -inf here).
  at::Tensor maxes = g->all_gather(logits.amax(1).contiguous()).view({g->size(), m}).amax(0);
  at::Tensor local = labels - offset;
  s.here = local.ge(0).logical_and(local.lt(cols));
  s.local_label = local.clamp(0, cols - 1);
  at::Tensor both = at::stack({(logits - maxes.unsqueeze(1)).exp_().sum(1),
                               logits.gather(1, s.local_label.unsqueeze(1)).squeeze(1).masked_fill(s.here.logical_not(), 0)})
                        .contiguous();
  g->all_reduce_sum(both);
  s.lse = both[0].log() + maxes;
  s.target = both[1];
  return s;
}

// Logits of this rank's rows, with padding rows (ids >= vocab) at -inf.
at::Tensor local_logits(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m, int64_t vocab,
                        int64_t offset) {
  const int64_t real = std::clamp<int64_t>(vocab - offset, 0, weight.size(0));
  return head_logits(hidden, weight, b, m, real).clone();
}

struct VocabParallelCE : public torch::autograd::Function<VocabParallelCE> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight, at::Tensor labels,
                            at::Tensor token_weights, int64_t vocab, int64_t chunk, int64_t offset, int64_t group,
                            bool want_grads) {
    auto* g = reinterpret_cast<model::TpGroup*>(group);
    const int64_t n = hidden.size(0);
    const bool need_h = want_grads && hidden.requires_grad(), need_w = want_grads && weight.requires_grad();
    at::Tensor grad_h = need_h ? at::zeros_like(hidden, at::MemoryFormat::Contiguous) : at::Tensor();
    at::Tensor grad_w = need_w ? at::zeros(weight.sizes(), weight.options().dtype(at::kFloat)) : at::Tensor();
    at::Tensor total = at::zeros({}, hidden.options().dtype(at::kFloat));
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      at::Tensor logits = local_logits(hidden, weight, b, m, vocab, offset);
      const ChunkStats s = chunk_stats(logits, labels.narrow(0, b, m), offset, g);
      at::Tensor w = token_weights.numel() ? token_weights.narrow(0, b, m).to(at::kFloat) : at::Tensor();
      at::Tensor rows = s.lse - s.target;
      total.add_(w.defined() ? (rows * w).sum() : rows.sum());
      if (need_h || need_w) {
        // softmax - onehot over this rank's columns.
        logits.sub_(s.lse.unsqueeze(1)).exp_();
        logits.scatter_add_(1, s.local_label.unsqueeze(1), -s.here.to(at::kFloat).unsqueeze(1));
        if (w.defined()) logits.mul_(w.unsqueeze(1));
        head_backward(logits, weight, hidden.narrow(0, b, m), need_h ? grad_h.narrow(0, b, m) : at::Tensor(),
                      need_w ? grad_w : at::Tensor());
      }
    }
    // The hidden states feed every rank's rows: their gradient is the sum of the ranks' parts.
    if (need_h) g->all_reduce_sum(grad_h);
    ctx->saved_data["grad_h"] = grad_h;
    ctx->saved_data["grad_w"] = need_w ? grad_w.to(weight.scalar_type()) : grad_w;
    return total;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    at::Tensor g = grad_out[0];
    at::Tensor gh = ctx->saved_data["grad_h"].toTensor();
    at::Tensor gw = ctx->saved_data["grad_w"].toTensor();
    ctx->saved_data.clear();
    if (gh.defined()) gh.mul_(g.to(gh.scalar_type()));
    if (gw.defined()) gw.mul_(g.to(gw.scalar_type()));
    return {gh, gw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct VocabParallelLogprobs : public torch::autograd::Function<VocabParallelLogprobs> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight, at::Tensor labels,
                            int64_t vocab, int64_t chunk, int64_t offset, int64_t group) {
    auto* g = reinterpret_cast<model::TpGroup*>(group);
    const int64_t n = hidden.size(0);
    at::Tensor out = at::empty({n}, hidden.options().dtype(at::kFloat));
    at::Tensor lse = at::empty({n}, hidden.options().dtype(at::kFloat));
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      const ChunkStats s = chunk_stats(local_logits(hidden, weight, b, m, vocab, offset), labels.narrow(0, b, m), offset, g);
      out.narrow(0, b, m).copy_(s.target - s.lse);
      lse.narrow(0, b, m).copy_(s.lse);
    }
    ctx->save_for_backward({hidden, weight, labels, lse});
    ctx->saved_data["autocast"] = model::AutocastState::of(hidden).pack();
    ctx->saved_data["vocab"] = vocab;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["group"] = group;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &hidden = saved[0], &weight = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t vocab = ctx->saved_data["vocab"].toInt(), chunk = ctx->saved_data["chunk"].toInt(),
                  offset = ctx->saved_data["offset"].toInt();
    const model::AutocastScope as_in_forward(model::AutocastState::unpack(ctx->saved_data["autocast"].toInt()));
    auto* grp = group_of(ctx);
    const bool need_h = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    at::Tensor g = grad_out[0].to(at::kFloat);
    const int64_t n = hidden.size(0);
    at::Tensor grad_h = need_h ? at::zeros_like(hidden, at::MemoryFormat::Contiguous) : at::Tensor();
    at::Tensor grad_w = need_w ? at::zeros(weight.sizes(), weight.options().dtype(at::kFloat)) : at::Tensor();
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t m = std::min(chunk, n - b);
      // d logp / d logits = onehot(y) - softmax, over this rank's columns, times the incoming gradient.
      at::Tensor d = local_logits(hidden, weight, b, m, vocab, offset);
      at::Tensor gi = g.narrow(0, b, m).unsqueeze(1);
      d.sub_(lse.narrow(0, b, m).unsqueeze(1)).exp_().mul_(-gi);
      at::Tensor local = labels.narrow(0, b, m) - offset;
      at::Tensor here = local.ge(0).logical_and(local.lt(d.size(1)));
      d.scatter_add_(1, local.clamp(0, d.size(1) - 1).unsqueeze(1), gi * here.to(at::kFloat).unsqueeze(1));
      head_backward(d, weight, hidden.narrow(0, b, m), need_h ? grad_h.narrow(0, b, m) : at::Tensor(),
                    need_w ? grad_w : at::Tensor());
    }
    if (need_h) grp->all_reduce_sum(grad_h);
    return {grad_h, need_w ? grad_w.to(weight.scalar_type()) : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

void check_inputs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels, int64_t chunk,
                  const VocabShard& shard, const char* what) {
  PT_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
           "{}: hidden [n, H] and weight [V_local, H] expected", what);
  PT_CHECK(labels.dim() == 1 && labels.size(0) == hidden.size(0), "{}: one label per row expected", what);
  PT_CHECK(chunk > 0 && shard.split(), "{}: bad chunk or no tensor-parallel group", what);
}

}  // namespace

VocabShard vocab_shard_of(const model::CausalLM& model) { return {model.tp_group().get(), model.vocab_offset()}; }

at::Tensor vocab_parallel_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                        int64_t vocab_size, int64_t chunk, const at::Tensor& weights,
                                        const VocabShard& shard) {
  check_inputs(hidden, weight, labels, chunk, shard, "vocab_parallel_cross_entropy");
  // Every rank of the group must take part, also with nothing to score.
  return VocabParallelCE::apply(hidden, weight, labels,
                                weights.defined() ? weights.detach() : at::empty({0}, hidden.options().dtype(at::kFloat)),
                                vocab_size, chunk, shard.offset, reinterpret_cast<int64_t>(shard.group),
                                at::GradMode::is_enabled());
}

at::Tensor vocab_parallel_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                   int64_t vocab_size, int64_t chunk, const VocabShard& shard) {
  check_inputs(hidden, weight, labels, chunk, shard, "vocab_parallel_logprobs");
  return VocabParallelLogprobs::apply(hidden, weight, labels, vocab_size, chunk, shard.offset,
                                      reinterpret_cast<int64_t>(shard.group));
}

}  // namespace pt::algo
