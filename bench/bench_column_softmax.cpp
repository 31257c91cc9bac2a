// The LM-head loss's column kernels (algo/column_softmax.h) on a transposed logits block [V, m]
// against ATen on the same block in the same run: log-sum-exp over each column (ATen: logsumexp over
// dim 0), then the in-place softmax - onehot (ATen: softmax over dim 0 into a second block).
//   bench_column_softmax [vocab=151669] [m=1024] [reps=5]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "algo/column_softmax.h"

namespace {
template <class F>
double best_of(int reps, F f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t vocab = argc > 1 ? std::atoll(argv[1]) : 151669;
  const int64_t m = argc > 2 ? std::atoll(argv[2]) : 1024;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  const int64_t padded = (vocab + 63) / 64 * 64;
  torch::manual_seed(0);
  at::Tensor block = at::randn({padded, m}) * 3;
  at::Tensor work = block.clone(), out = at::empty_like(block);
  at::Tensor labels = at::randint(0, vocab, {m}, at::kLong), scale = at::ones({m});
  std::printf("column softmax, block [%lld, %lld] fp32, %s kernels, %d threads, best of %d\n", (long long)padded,
              (long long)m, pt::algo::column_softmax_isa(), at::get_num_threads(), reps);
  pt::algo::ColumnLse lse;
  const double ours_lse = best_of(reps, [&] { lse = pt::algo::column_logsumexp(block, vocab); });
  const at::Tensor real = block.narrow(0, 0, vocab);
  at::Tensor ref;
  const double aten_lse = best_of(reps, [&] { ref = at::logsumexp(real, 0); });
  const double ours_sm = best_of(reps, [&] {
    work.copy_(block);
    pt::algo::column_softmax_minus_onehot_(work, lse, labels, scale, vocab);
  });
  const double copy = best_of(reps, [&] { work.copy_(block); });
  at::Tensor out_real = out.narrow(0, 0, vocab);
  const double aten_sm = best_of(reps, [&] { at::_softmax_out(out_real, real, 0, false); });
  const double gb = block.nbytes() / 1e9;
  std::printf("%-22s %10s %10s %8s\n", "", "ours ms", "ATen ms", "ATen/ours");
  std::printf("%-22s %10.1f %10.1f %7.2fx   (%.1f GB/s read by ours)\n", "log-sum-exp", ours_lse * 1e3, aten_lse * 1e3,
              aten_lse / ours_lse, gb / ours_lse);
  std::printf("%-22s %10.1f %10.1f %7.2fx   (ours less the %.1f ms block copy)\n", "softmax - onehot",
              (ours_sm - copy) * 1e3, aten_sm * 1e3, aten_sm / (ours_sm - copy), copy * 1e3);
  std::printf("max |lse - ATen| %.3g\n", (lse.lse() - ref).abs().max().item<double>());
  return 0;
}
