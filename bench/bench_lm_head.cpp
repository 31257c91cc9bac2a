// LM-head cost against vocabulary padding (issue: speed, point 5): forward + backward of the
// projection x @ W^T (grad of x and of W) for real vocabulary sizes as they are and padded up to a
// multiple of 64, timed in the same run. What `model.vocab_pad_multiple` (default 64) trades: up to
// 63 extra rows against the GEMM shapes the BLAS / tensor cores prefer.
//   bench_lm_head [cpu|cuda] [tokens] [hidden]
//   defaults: cpu 2048 tokens x 512 hidden fp32; cuda 16384 x 2048 bf16
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

namespace {
double time_head(int64_t tokens, int64_t hidden, int64_t vocab, at::Device dev, at::ScalarType dt, int reps) {
  auto opts = at::TensorOptions().device(dev).dtype(dt);
  auto x = at::randn({tokens, hidden}, opts).requires_grad_(true);
  auto w = (at::randn({vocab, hidden}, opts) * 0.02).requires_grad_(true);
  auto gy = at::randn({tokens, vocab}, opts);
  auto step = [&] {
    auto y = at::matmul(x, w.t());
    y.backward(gy);
    x.mutable_grad() = at::Tensor();
    w.mutable_grad() = at::Tensor();
  };
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  step();
  sync();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) step();
  sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}
}  // namespace

int main(int argc, char** argv) {
  const bool cuda = argc > 1 && std::string(argv[1]) == "cuda";
  if (cuda && !torch::cuda::is_available()) {
    std::fprintf(stderr, "no CUDA device visible\n");
    return 1;
  }
  const int64_t tokens = argc > 2 ? std::atoll(argv[2]) : (cuda ? 16384 : 2048);
  const int64_t hidden = argc > 3 ? std::atoll(argv[3]) : (cuda ? 2048 : 512);
  const at::Device dev = cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  const at::ScalarType dt = cuda ? at::kBFloat16 : at::kFloat;
  const int reps = cuda ? 20 : 3;
  std::printf("LM head x[%lld, %lld] @ W^T, forward + backward, %s %s, %d threads\n", (long long)tokens,
              (long long)hidden, cuda ? "cuda" : "cpu", cuda ? "bf16" : "fp32", at::get_num_threads());
  std::printf("%-10s %-10s %12s %12s %10s %14s\n", "vocab", "padded", "as is ms", "padded ms", "ratio", "padded GFLOP/s");
  for (int64_t v : {32001, 49153, 128256, 151669, 151936}) {
    const int64_t padded = (v + 63) / 64 * 64;
    const double a = time_head(tokens, hidden, v, dev, dt, reps);
    const double b = padded == v ? a : time_head(tokens, hidden, padded, dev, dt, reps);
    const double flops = 6.0 * tokens * hidden * padded;
    std::printf("%-10lld %-10lld %12.2f %12.2f %9.2fx %14.1f\n", (long long)v, (long long)padded, a * 1e3, b * 1e3, a / b,
                flops / b / 1e9);
  }
  return 0;
}
