#include "algo/lm_head.h"

#include <limits>

#include "core/error.h"

namespace pt::algo {

bool head_logits_direct(const at::Tensor& hidden, const at::Tensor& weight) {
  return hidden.is_cpu() && weight.scalar_type() == at::kFloat && hidden.scalar_type() == at::kFloat;
}

namespace {

at::Tensor reused_block(int64_t rows, int64_t cols, const at::TensorOptions& options) {
  static thread_local at::Tensor block;
  if (!block.defined() || block.numel() < rows * cols) block = at::empty({rows * cols}, options);
  return block.narrow(0, 0, rows * cols).view({rows, cols});
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
  } else {
    logits = at::matmul(hidden.narrow(0, b, m), weight.t()).to(at::kFloat);
  }
  if (padded > vocab) logits.narrow(1, vocab, padded - vocab).fill_(-std::numeric_limits<float>::infinity());
  return logits;
}

}  // namespace pt::algo
