#include "algo/lm_head.h"

#include <limits>

namespace pt::algo {

bool head_logits_direct(const at::Tensor& hidden, const at::Tensor& weight) {
  return hidden.is_cpu() && weight.scalar_type() == at::kFloat && hidden.scalar_type() == at::kFloat;
}

at::Tensor head_logits(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m, int64_t vocab) {
  const int64_t padded = weight.size(0);
  at::Tensor logits;
  if (head_logits_direct(hidden, weight)) {
    static thread_local at::Tensor block;
    if (!block.defined() || block.numel() < m * padded) block = at::empty({m * padded}, hidden.options());
    logits = block.narrow(0, 0, m * padded).view({m, padded});
    at::mm_out(logits, hidden.narrow(0, b, m), weight.t());
  } else {
    logits = at::matmul(hidden.narrow(0, b, m), weight.t()).to(at::kFloat);
  }
  if (padded > vocab) logits.narrow(1, vocab, padded - vocab).fill_(-std::numeric_limits<float>::infinity());
  return logits;
}

}  // namespace pt::algo
