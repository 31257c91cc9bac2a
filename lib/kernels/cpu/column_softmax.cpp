// Softmax kernels over the columns of a row-major block (one column per token: the transposed LM-head
// logits, which MKL writes 1.4x faster than the [tokens, vocab] layout). Built once per instruction
// set (PT_KERNEL_ISA: base, avx2, avx512), selected at run time by algo/column_softmax.cpp, so this
// file includes nothing but ATen's vector types (whose namespace carries the instruction set) to keep
// the per-ISA objects from defining shared inline code.
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/column_softmax.h"

namespace pt::kernels::PT_KERNEL_ISA {
namespace {

using Vec = at::vec::Vectorized<float>;

// Rows are taken in blocks small enough to stay in L1: the block max is found first, so the running
// sum is rescaled once per block instead of paying a second exp per element.
constexpr int64_t kRowBlock = 32;

// Sums cascade (a block's terms, then kBlocksPerLevel block sums, then those) so fp32 rounding grows
// with the number of blocks rather than of rows: 20,000 rows added one by one put the log-sum-exp
// 5e-5 off ATen's.
constexpr int64_t kBlocksPerLevel = 64;

template <int NV>
void max_sumexp_group(const float* x, int64_t rows, int64_t ld, float* max_out, float* sum_out) {
  constexpr int64_t W = Vec::size();
  Vec m[NV], s[NV], level[NV];
  int64_t blocks = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock, ++blocks) {
    const int64_t r1 = std::min(rows, r0 + kRowBlock);
    Vec bm[NV];
    for (int k = 0; k < NV; ++k) bm[k] = Vec::loadu(x + r0 * ld + k * W);
    for (int64_t r = r0 + 1; r < r1; ++r)
      for (int k = 0; k < NV; ++k) bm[k] = at::vec::maximum(bm[k], Vec::loadu(x + r * ld + k * W));
    for (int k = 0; k < NV; ++k) {
      if (r0 == 0) {
        m[k] = bm[k];
        s[k] = level[k] = Vec(0.f);
      } else {
        const Vec nm = at::vec::maximum(m[k], bm[k]);
        const Vec rescale = (m[k] - nm).exp();
        s[k] = s[k] * rescale;
        level[k] = level[k] * rescale;
        m[k] = nm;
      }
    }
    if (blocks > 0 && blocks % kBlocksPerLevel == 0)
      for (int k = 0; k < NV; ++k) {
        s[k] = s[k] + level[k];
        level[k] = Vec(0.f);
      }
    Vec block[NV];
    for (int k = 0; k < NV; ++k) block[k] = Vec(0.f);
    for (int64_t r = r0; r < r1; ++r)
      for (int k = 0; k < NV; ++k) block[k] = block[k] + (Vec::loadu(x + r * ld + k * W) - m[k]).exp();
    for (int k = 0; k < NV; ++k) level[k] = level[k] + block[k];
  }
  for (int k = 0; k < NV; ++k) {
    m[k].store(max_out + k * W);
    (s[k] + level[k]).store(sum_out + k * W);
  }
}

void max_sumexp_scalar(const float* x, int64_t rows, int64_t ld, float* max_out, float* sum_out) {
  float m = x[0];
  for (int64_t r = 1; r < rows; ++r) m = std::max(m, x[r * ld]);
  double s = 0;  // a few columns at most: no cascade needed
  for (int64_t r = 0; r < rows; ++r) s += std::exp(x[r * ld] - m);
  *max_out = m;
  *sum_out = static_cast<float>(s);
}

}  // namespace

void column_max_sumexp(const float* x, int64_t rows, int64_t ld, int64_t cols, float* max_out, float* sum_out) {
  constexpr int64_t W = Vec::size(), Wide = 8 * W;
  int64_t j = 0;
  for (; j + Wide <= cols; j += Wide) max_sumexp_group<8>(x + j, rows, ld, max_out + j, sum_out + j);
  for (; j + W <= cols; j += W) max_sumexp_group<1>(x + j, rows, ld, max_out + j, sum_out + j);
  for (; j < cols; ++j) max_sumexp_scalar(x + j, rows, ld, max_out + j, sum_out + j);
}

void rows_exp_scale(float* x, int64_t rows, int64_t ld, int64_t cols, const float* max, const float* log_sum,
                    const float* scale) {
  constexpr int64_t W = Vec::size();
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    int64_t j = 0;
    for (; j + W <= cols; j += W)
      (((Vec::loadu(row + j) - Vec::loadu(max + j)) - Vec::loadu(log_sum + j)).exp() * Vec::loadu(scale + j))
          .store(row + j);
    for (; j < cols; ++j) row[j] = std::exp((row[j] - max[j]) - log_sum[j]) * scale[j];
  }
}

}  // namespace pt::kernels::PT_KERNEL_ISA
