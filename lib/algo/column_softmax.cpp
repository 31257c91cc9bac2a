#include "algo/column_softmax.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/column_softmax.h"

namespace pt::algo {
namespace {

struct Kernels {
  const char* isa;
  decltype(&kernels::base::column_max_sumexp) max_sumexp;
  decltype(&kernels::base::rows_exp_scale) exp_scale;
};

const Kernels& kernels_for_cpu() {
  static const Kernels k = [] {
#if defined(__x86_64__)  // CMakeLists builds the avx2 and avx512 objects there
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return Kernels{"avx512", &kernels::avx512::column_max_sumexp, &kernels::avx512::rows_exp_scale};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      return Kernels{"avx2", &kernels::avx2::column_max_sumexp, &kernels::avx2::rows_exp_scale};
#endif
    return Kernels{"base", &kernels::base::column_max_sumexp, &kernels::base::rows_exp_scale};
  }();
  return k;
}

void check_block(const at::Tensor& lt, int64_t vocab) {
  PT_CHECK(lt.dim() == 2 && lt.is_cpu() && lt.scalar_type() == at::kFloat && lt.is_contiguous(),
           "column softmax: a contiguous fp32 CPU [V, m] block expected");
  PT_CHECK(vocab > 0 && vocab <= lt.size(0), "column softmax: vocab {} outside the block's {} rows", vocab,
           lt.size(0));
}

}  // namespace

const char* column_softmax_isa() { return kernels_for_cpu().isa; }

ColumnLse column_logsumexp(const at::Tensor& lt, int64_t vocab) {
  check_block(lt, vocab);
  const Kernels& k = kernels_for_cpu();
  const int64_t m = lt.size(1);
  // Column groups alone leave threads idle on a narrow block (the last chunk of a micro-batch), so the
  // rows are cut into slabs as well and the slabs' (max, sum) pairs merged.
  constexpr int64_t kGroup = 1024, kMinSlabRows = 4096;
  const int64_t groups = (m + kGroup - 1) / kGroup, threads = at::get_num_threads();
  const int64_t slabs = std::clamp<int64_t>((threads + groups - 1) / groups, 1, std::max<int64_t>(1, vocab / kMinSlabRows));
  const int64_t slab_rows = (vocab + slabs - 1) / slabs;
  std::vector<float> mx(slabs * m), sm(slabs * m);
  const float* x = lt.const_data_ptr<float>();
  at::parallel_for(0, groups * slabs, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t g = t % groups, s = t / groups;
      const int64_t c0 = g * kGroup, c1 = std::min(m, c0 + kGroup);
      const int64_t r0 = s * slab_rows, r1 = std::min(vocab, r0 + slab_rows);
      if (r0 >= r1) continue;
      k.max_sumexp(x + r0 * m + c0, r1 - r0, m, c1 - c0, mx.data() + s * m + c0, sm.data() + s * m + c0);
    }
  });
  ColumnLse out{at::empty({m}, lt.options()), at::empty({m}, lt.options())};
  float* big_out = out.max.data_ptr<float>();
  float* log_out = out.log_sum.data_ptr<float>();
  for (int64_t j = 0; j < m; ++j) {
    float big = mx[j];
    for (int64_t s = 1; s < slabs && s * slab_rows < vocab; ++s) big = std::max(big, mx[s * m + j]);
    double total = 0;
    for (int64_t s = 0; s < slabs && s * slab_rows < vocab; ++s)
      total += sm[s * m + j] * std::exp(double(mx[s * m + j]) - big);
    big_out[j] = big;
    log_out[j] = static_cast<float>(std::log(total));
  }
  return out;
}

void column_softmax_minus_onehot_(at::Tensor& lt, const ColumnLse& lse, const at::Tensor& labels,
                                  const at::Tensor& scale, int64_t vocab) {
  check_block(lt, vocab);
  const int64_t m = lt.size(1), padded = lt.size(0);
  PT_CHECK(lse.max.numel() == m && lse.log_sum.numel() == m && labels.numel() == m && scale.numel() == m,
           "column softmax: one lse, label and scale per column expected");
  at::Tensor big = lse.max.contiguous(), logs = lse.log_sum.contiguous(), sc = scale.to(at::kFloat).contiguous();
  at::Tensor y = labels.to(at::kLong).contiguous();
  const int64_t* lab = y.const_data_ptr<int64_t>();
  for (int64_t j = 0; j < m; ++j)  // before the block is overwritten
    PT_CHECK(lab[j] >= 0 && lab[j] < vocab, "column softmax: label {} outside [0, {})", lab[j], vocab);
  const Kernels& k = kernels_for_cpu();
  float* x = lt.data_ptr<float>();
  const float *mx = big.const_data_ptr<float>(), *ls = logs.const_data_ptr<float>(), *w = sc.const_data_ptr<float>();
  at::parallel_for(0, vocab, 256, [&](int64_t r0, int64_t r1) { k.exp_scale(x + r0 * m, r1 - r0, m, m, mx, ls, w); });
  if (padded > vocab) lt.narrow(0, vocab, padded - vocab).zero_();
  for (int64_t j = 0; j < m; ++j) x[lab[j] * m + j] -= w[j];
}

}  // namespace pt::algo
