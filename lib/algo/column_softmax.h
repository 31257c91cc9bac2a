#pragma once
// Cross-entropy pieces over a transposed logits block lt [V_padded, m] (fp32, CPU, contiguous; one
// column per token, rows >= vocab are padding), the layout head_logits_t writes.
#include <ATen/ATen.h>

namespace pt::algo {

// log sum_v<vocab exp(lt[v, j]) for each column j as max_j + log_sum_j ([m] each), kept apart so a
// log-probability near 0 is formed without rounding at the max's magnitude.
struct ColumnLse {
  at::Tensor max, log_sum;
  at::Tensor lse() const { return max + log_sum; }
};
ColumnLse column_logsumexp(const at::Tensor& lt, int64_t vocab);

// In place, the cross-entropy gradient w.r.t. the logits: lt[v, j] = scale[j] * (softmax_j(v) -
// [v == labels[j]]) for v < vocab, 0 on padding rows. labels [m] int64; scale [m] fp32.
void column_softmax_minus_onehot_(at::Tensor& lt, const ColumnLse& lse, const at::Tensor& labels,
                                  const at::Tensor& scale, int64_t vocab);

// The instruction set the kernels run with on this CPU ("avx512", "avx2" or "base").
const char* column_softmax_isa();

}  // namespace pt::algo
