#include "algo/lm_head.h"

#include <ATen/autocast_mode.h>

#include <limits>

#include "core/error.h"

namespace pt::algo {

bool head_logits_direct(const at::Tensor& hidden, const at::Tensor& weight) {
  return hidden.is_cpu() && weight.scalar_type() == at::kFloat && hidden.scalar_type() == at::kFloat &&
         !at::autocast::is_autocast_enabled(at::kCPU);
}

at::ScalarType head_compute_dtype(const at::Tensor& hidden, const at::Tensor& weight) {
  const at::DeviceType d = hidden.device().type();
  if (at::autocast::is_autocast_enabled(d)) return at::autocast::get_autocast_dtype(d);
  return at::promote_types(hidden.scalar_type(), weight.scalar_type());
}

namespace {

// The per-thread blocks: fp32 logits (what head_logits returns), a low-precision copy of logits or
// their gradient, and the [rows, H] weight-gradient product. One of each is live at a time.
enum class Block { Logits, LowPrecision, Product, kCount };

at::Tensor reused_block(int64_t rows, int64_t cols, const at::TensorOptions& options, Block which = Block::Logits) {
  static thread_local at::Tensor blocks[static_cast<int>(Block::kCount)];
  at::Tensor& block = blocks[static_cast<int>(which)];
  if (!block.defined() || block.numel() < rows * cols || block.scalar_type() != options.dtype().toScalarType())
    block = at::empty({rows * cols}, options);
  return block.narrow(0, 0, rows * cols).view({rows, cols});
}

// a @ b: into the reused block `which` on the CPU, a fresh tensor elsewhere.
at::Tensor mm_reused(const at::Tensor& a, const at::Tensor& b, Block which) {
  if (!a.is_cpu()) return at::mm(a, b);
  at::Tensor out = reused_block(a.size(0), b.size(1), a.options(), which);
  return at::mm_out(out, a, b);
}

}  // namespace

at::Tensor head_logits_t(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m) {
  PT_CHECK(head_logits_direct(hidden, weight), "head_logits_t: fp32 CPU hidden states and weight expected");
  at::Tensor lt = reused_block(weight.size(0), m, hidden.options());
  at::mm_out(lt, weight, hidden.narrow(0, b, m).t());
  return lt;
}

at::Tensor head_logits(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m, int64_t vocab) {
  const int64_t padded = weight.size(0);
  at::Tensor logits;
  if (head_logits_direct(hidden, weight)) {
    logits = reused_block(m, padded, hidden.options());
    at::mm_out(logits, hidden.narrow(0, b, m), weight.t());
  } else if (const at::ScalarType cd = head_compute_dtype(hidden, weight); hidden.is_cpu() && cd == at::kBFloat16) {
    // As autocast would compute it, into reused blocks: the bf16 product, then its fp32 copy.
    const at::Tensor low = mm_reused(hidden.narrow(0, b, m).to(cd), at::autocast::cached_cast(cd, weight, at::kCPU).t(),
                                     Block::LowPrecision);
    logits = reused_block(m, padded, hidden.options().dtype(at::kFloat));
    logits.copy_(low);
  } else {
    logits = at::matmul(hidden.narrow(0, b, m), weight.t()).to(at::kFloat);
  }
  if (padded > vocab) logits.narrow(1, vocab, padded - vocab).fill_(-std::numeric_limits<float>::infinity());
  return logits;
}

void head_backward(const at::Tensor& d, const at::Tensor& weight, const at::Tensor& h, at::Tensor grad_h,
                   at::Tensor grad_w) {
  if (!grad_h.defined() && !grad_w.defined()) return;
  const at::ScalarType cd = head_compute_dtype(h, weight);
  if (cd == at::kFloat || cd == at::kDouble) {
    if (grad_h.defined()) grad_h.copy_(at::matmul(d.to(cd), weight.to(cd)));
    if (grad_w.defined()) grad_w.addmm_(d.t().to(grad_w.scalar_type()), h.to(grad_w.scalar_type()));
    return;
  }
  const at::Tensor dc =
      h.is_cpu() ? reused_block(d.size(0), d.size(1), d.options().dtype(cd), Block::LowPrecision).copy_(d) : d.to(cd);
  if (grad_h.defined()) grad_h.copy_(at::mm(dc, at::autocast::cached_cast(cd, weight, h.device().type())));
  if (grad_w.defined()) grad_w.add_(mm_reused(dc.t(), h.to(cd), Block::Product));
}

}  // namespace pt::algo
