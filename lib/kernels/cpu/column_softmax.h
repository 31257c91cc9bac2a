#pragma once
// Per-instruction-set column softmax kernels on raw fp32 blocks (row-major, row stride `ld`);
// algo/column_softmax.h is the tensor-level entry that picks one for the running CPU.
#include <cstdint>

#define PT_DECLARE_COLUMN_SOFTMAX_KERNELS(isa)                                                                \
  namespace pt::kernels::isa {                                                                                \
  /* Over rows [0, rows): the max of each column j < cols and the sum of exp(x - max). */                    \
  void column_max_sumexp(const float* x, int64_t rows, int64_t ld, int64_t cols, float* max_out, float* sum_out); \
  /* x[r, j] = exp((x[r, j] - max[j]) - log_sum[j]) * scale[j] for r < rows, j < cols (the max taken */        \
  /* out first, so a probability near 1 is not rounded at the max's magnitude). */                             \
  void rows_exp_scale(float* x, int64_t rows, int64_t ld, int64_t cols, const float* max, const float* log_sum,  \
                      const float* scale);                                                                       \
  }

PT_DECLARE_COLUMN_SOFTMAX_KERNELS(base)
PT_DECLARE_COLUMN_SOFTMAX_KERNELS(avx2)
PT_DECLARE_COLUMN_SOFTMAX_KERNELS(avx512)
