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

// Rows are taken in blocks (32 rows of up to kMaxCols columns: 128 KB, in L2) whose max is found
// first, so the running sum is rescaled once per block instead of paying a second exp per element.
constexpr int64_t kRowBlock = 32;

// Sums cascade (a block's terms, then kBlocksPerLevel block sums, then those) so fp32 rounding grows
// with the number of blocks rather than of rows: 20,000 rows added one by one put the log-sum-exp
// 5e-5 off ATen's.
constexpr int64_t kBlocksPerLevel = 64;

// Columns are taken kMaxCols at a time and walked row block by row block across all of them, so
// memory is read in whole rows: a walk down all rows one 16-column vector at a time strides a page
// per row (313 ms on a [151,680 x 1,024] block, 2 threads, bench_column_softmax; 84 ms this way,
// where 256 / 512 columns at a time gave 123 / 99 ms). Per-column state lives on the stack between
// row blocks.
constexpr int64_t kMaxCols = 1024;

struct ColumnState {
  alignas(64) float max[kMaxCols], sum[kMaxCols], level[kMaxCols];
};

// Row block [r0, r1) over the vector columns [j, j + NV * W) (NV vectors side by side for
// independent exp chains).
template <int NV>
void max_sumexp_block(const float* x, int64_t r0, int64_t r1, int64_t ld, int64_t j, bool first, bool fold,
                      ColumnState& st) {
  constexpr int64_t W = Vec::size();
  Vec bm[NV], m[NV], s[NV], level[NV], block[NV];
  for (int k = 0; k < NV; ++k) bm[k] = Vec::loadu(x + r0 * ld + j + k * W);
  for (int64_t r = r0 + 1; r < r1; ++r)
    for (int k = 0; k < NV; ++k) bm[k] = at::vec::maximum(bm[k], Vec::loadu(x + r * ld + j + k * W));
  for (int k = 0; k < NV; ++k) {
    if (first) {
      m[k] = bm[k];
      s[k] = level[k] = Vec(0.f);
    } else {
      const Vec old = Vec::loadu(st.max + j + k * W);
      m[k] = at::vec::maximum(old, bm[k]);
      const Vec rescale = (old - m[k]).exp();
      s[k] = Vec::loadu(st.sum + j + k * W) * rescale;
      level[k] = Vec::loadu(st.level + j + k * W) * rescale;
    }
    if (fold) {
      s[k] = s[k] + level[k];
      level[k] = Vec(0.f);
    }
    block[k] = Vec(0.f);
  }
  for (int64_t r = r0; r < r1; ++r)
    for (int k = 0; k < NV; ++k) block[k] = block[k] + (Vec::loadu(x + r * ld + j + k * W) - m[k]).exp();
  for (int k = 0; k < NV; ++k) {
    m[k].store(st.max + j + k * W);
    s[k].store(st.sum + j + k * W);
    (level[k] + block[k]).store(st.level + j + k * W);
  }
}

// Columns [0, n), n <= kMaxCols and a multiple of the vector width.
void max_sumexp_vector_cols(const float* x, int64_t rows, int64_t ld, int64_t n, float* max_out, float* sum_out) {
  constexpr int64_t W = Vec::size();
  ColumnState st;
  int64_t blocks = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock, ++blocks) {
    const int64_t r1 = std::min(rows, r0 + kRowBlock);
    const bool first = r0 == 0, fold = blocks > 0 && blocks % kBlocksPerLevel == 0;
    int64_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) max_sumexp_block<4>(x, r0, r1, ld, j, first, fold, st);
    for (; j < n; j += W) max_sumexp_block<1>(x, r0, r1, ld, j, first, fold, st);
  }
  for (int64_t j = 0; j < n; ++j) {
    max_out[j] = st.max[j];
    sum_out[j] = st.sum[j] + st.level[j];
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
  constexpr int64_t W = Vec::size();
  const int64_t vector_cols = cols / W * W;
  for (int64_t j = 0; j < vector_cols; j += kMaxCols) {
    const int64_t n = std::min(kMaxCols, vector_cols - j);
    max_sumexp_vector_cols(x + j, rows, ld, n, max_out + j, sum_out + j);
  }
  for (int64_t j = vector_cols; j < cols; ++j) max_sumexp_scalar(x + j, rows, ld, max_out + j, sum_out + j);
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
